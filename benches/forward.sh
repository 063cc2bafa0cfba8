#!/usr/bin/env bash
# Forward-proxy recording (record --forward, the client's TLS ending on a minted certificate)
# against reverse-proxy recording (record --upstream), in one run: both record `emtape serve`
# over HTTPS answering the 833 KB, 1,000-point restore point list, at 16 connections (oha).
#   benches/forward.sh           (N=1000 DUR=15 C=16; OHA=/opt/peers/cargo/bin/oha)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${EMTAPE_BIN:-$here/../target/release/emtape}
oha=${OHA:-/opt/peers/cargo/bin/oha}
n=${N:-1000}; dur=${DUR:-15}; c=${C:-16}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$here/.." && cargo build --release --quiet)
python3 "$here/gen_points.py" "$here/../cassettes/reference/vm-restore.yaml" "$work/points.yaml" "$n"
started() { for _ in $(seq 50); do [ -s "$1" ] && break; sleep 0.1; done; head -1 "$1" | awk '{print $3}'; }
"$bin" serve --listen 127.0.0.1:0 --tls --tls-cert-out "$work/em.pem" "$work/points.yaml" > "$work/em.out" 2>/dev/null &
em=$(started "$work/em.out"); host=${em#https://}
"$bin" record --upstream "$em" --upstream-ca "$work/em.pem" --listen 127.0.0.1:0 --out "$work/reverse.yaml" > "$work/rev.out" 2>/dev/null &
rev=$(started "$work/rev.out")
"$bin" record --forward --only "$host" --upstream-ca "$work/em.pem" --ca-out "$work/ca.pem" --listen 127.0.0.1:0 \
  --out "$work/forward.yaml" > "$work/fwd.out" 2>/dev/null &
fwd=$(started "$work/fwd.out")
token() { curl -s -D - -o /dev/null -X POST -u bench:bench "$@" | awk 'tolower($1) == "x-restsvcsessionid:" {print $2}' | tr -d '\r'; }
rev_token=$(token "$rev/api/sessionMngr/?v=latest")
fwd_token=$(token -x "$fwd" --cacert "$work/ca.pem" "$em/api/sessionMngr/?v=latest")
rps() { python3 -c "import json,sys; r=json.load(sys.stdin); print('%.0f' % r['summary']['requestsPerSec'])"; }
reverse=$("$oha" -c "$c" -z "${dur}s" --no-tui --output-format json -H "X-RestSvcSessionId: $rev_token" "$rev/api/vmRestorePoints" | rps)
forward=$("$oha" -c "$c" -z "${dur}s" --no-tui --output-format json -x "$fwd" --cacert "$work/ca.pem" \
  -H "X-RestSvcSessionId: $fwd_token" "$em/api/vmRestorePoints" | rps)
python3 -c "import sys; r, f = float(sys.argv[1]), float(sys.argv[2]); print('RESULT bench=forward_vs_reverse points=%s conns=%s reverse_rps=%.0f forward_rps=%.0f forward_over_reverse=%.2f' % (sys.argv[3], sys.argv[4], r, f, f / r))" "$reverse" "$forward" "$n" "$c"
