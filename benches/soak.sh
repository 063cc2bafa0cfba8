#!/usr/bin/env bash
# Soak: `emtape serve` (built-in cassettes) under 256 concurrent connections for DUR seconds
# (oha, from the peer set), with its resident memory sampled; then a logon storm of STORM
# logons that never log out, against the --max-sessions cap.
#   benches/soak.sh             (DUR=60 STORM=100000; OHA=/opt/peers/cargo/bin/oha)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${EMTAPE_BIN:-$here/../target/release/emtape}
oha=${OHA:-/opt/peers/cargo/bin/oha}
dur=${DUR:-60}
storm=${STORM:-100000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$here/.." && cargo build --release --quiet)
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status"; }
"$bin" serve --listen 127.0.0.1:0 > "$work/serve.out" 2>/dev/null &
pid=$!
for _ in $(seq 50); do [ -s "$work/serve.out" ] && break; sleep 0.1; done
url=$(head -1 "$work/serve.out" | awk '{print $3}')
start_rss=$(rss $pid)
"$oha" -c 256 -z 5s --no-tui "$url/api/" > /dev/null 2>&1
warm_rss=$(rss $pid)
( for _ in $(seq $((dur / 5))); do sleep 5; rss $pid; done ) > "$work/rss.txt" &
"$oha" -c 256 -z "${dur}s" --no-tui --output-format json "$url/api/" > "$work/soak.json" 2>/dev/null
wait %2 2>/dev/null || true
python3 - "$work/soak.json" "$work/rss.txt" "$start_rss" "$warm_rss" "$dur" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
samples = [int(x) for x in open(sys.argv[2]).read().split()]
codes = r.get("statusCodeDistribution", {})
errors = sum(r.get("errorDistribution", {}).values())
print("RESULT bench=soak conns=256 dur_s=%s rps=%.0f ok=%d non200=%d errors=%d rss_start_mb=%s rss_warm_mb=%s rss_max_mb=%d rss_end_mb=%d" % (
    sys.argv[5], r["summary"]["requestsPerSec"], codes.get("200", 0), sum(v for k, v in codes.items() if k != "200"),
    errors, sys.argv[3], sys.argv[4], max(samples or [0]), (samples or [0])[-1]))
PY
"$oha" -c 32 -n "$storm" --no-tui --output-format json -m POST -H "Authorization: Basic dXNlcjpwYXNz" \
  "$url/api/sessionMngr/?v=latest" > "$work/storm.json" 2>/dev/null
python3 - "$work/storm.json" "$(rss $pid)" "$storm" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
codes = r.get("statusCodeDistribution", {})
print("RESULT bench=logon_storm logons=%s rps=%.0f created_201=%d capped_503=%d other=%d rss_after_mb=%s" % (
    sys.argv[3], r["summary"]["requestsPerSec"], codes.get("201", 0), codes.get("503", 0),
    sum(v for k, v in codes.items() if k not in ("201", "503")), sys.argv[2]))
PY
