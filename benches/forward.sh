#!/usr/bin/env bash
# Forward-proxy recording (record --forward) against reverse-proxy recording (record --upstream),
# measured in one run on bench_proxy.sh's 833 KB, 1,000-point restore point list at 16 connections (oha), in the two
# set-ups a forward proxy has:
#   http   ../shared/bench/bench_proxy.sh's: nginx serves the body over plain HTTP (as EM
#          9.5 and older do on 9399); the forward client asks for absolute http:// URLs (HTTP_PROXY).
#   https  the same nginx over TLS; the forward client's CONNECT tunnel ends on a certificate
#          emtape mints (HTTPS_PROXY), so the forward path has one more TLS connection to run.
# PIN=1 (bench_proxy.sh's default) puts upstream and proxy on CPU 0, oha on CPU 1; PIN=0 lets
# them share both cores. The two proxies are loaded in turn, ROUNDS times, and the medians
# compared, so that a neighbour's burst on this shared machine does not decide the ratio.
#   benches/forward.sh   (N=1000 DUR=10 ROUNDS=3 C=16 MODES="http https" PIN=1; OHA=/opt/peers/cargo/bin/oha)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${EMTAPE_BIN:-$here/../target/release/emtape}
oha=${OHA:-/opt/peers/cargo/bin/oha}
n=${N:-1000}; dur=${DUR:-10}; rounds=${ROUNDS:-3}; c=${C:-16}; pin=${PIN:-1}
work=$(mktemp -d); chmod 755 "$work"  # nginx workers run as nobody
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$here/.." && cargo build --release --quiet)
srv=(); cli=()
if [ "$pin" = 1 ]; then srv=(taskset -c 0); cli=(taskset -c 1); fi

started() { for _ in $(seq 50); do [ -s "$1" ] && break; sleep 0.1; done; head -1 "$1" | awk '{print $3}'; }
rps() { python3 -c "import json,sys; r=json.load(sys.stdin); print('%.0f' % r['summary']['requestsPerSec'])"; }
load() { "${cli[@]}" "$oha" -c "$c" -z "${dur}s" --no-tui --output-format json "$@" | rps; }

# compare MODE BODY_BYTES: loads the reverse (reverse_load) and forward (forward_load) proxies in
# turn and prints the ratio of the medians.
compare() {
  local reverse="" forward="" i
  for i in $(seq "$rounds"); do
    reverse="$reverse $(reverse_load)"
    forward="$forward $(forward_load)"
  done
  python3 -c '
import statistics, sys
mode, size, conns, pin = sys.argv[1:5]
rev, fwd = ([float(x) for x in a.split()] for a in sys.argv[5:7])
r, f = statistics.median(rev), statistics.median(fwd)
print("RESULT bench=forward_vs_reverse upstream=%s body_bytes=%s conns=%s pin=%s reverse_rps=%.0f forward_rps=%.0f "
      "forward_over_reverse=%.2f rounds_reverse=%s rounds_forward=%s"
      % (mode, size, conns, pin, r, f, f / r, ",".join("%.0f" % x for x in rev), ",".join("%.0f" % x for x in fwd)))
' "$1" "$2" "$c" "$pin" "$reverse" "$forward"
}

# upstream MODE: nginx (one worker, bench_proxy.sh's settings) serving the body at $url, over
# plain HTTP or, for https, TLS with a certificate made here ($work/up.pem).
upstream() {
  local port listen certs="" d=$work/nginx-$1
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  listen="127.0.0.1:$port"
  if [ "$1" = https ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
      -addext subjectAltName=IP:127.0.0.1 -addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth -keyout "$work/up.key" -out "$work/up.pem" 2>/dev/null
    listen="$listen ssl"
    certs="ssl_certificate $work/up.pem; ssl_certificate_key $work/up.key;"
  fi
  mkdir -p "$d/tmp"
  cat > "$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
  access_log off; sendfile off; tcp_nopush on; output_buffers 1 1m;
  keepalive_requests 1000000; keepalive_timeout 65;
  client_body_temp_path $d/tmp/body; proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi; uwsgi_temp_path $d/tmp/uwsgi; scgi_temp_path $d/tmp/scgi;
  server { listen $listen; $certs
    location = /api/vmRestorePoints { default_type "application/xml; charset=utf-8"; alias $body; } }
}
EOF
  "${srv[@]}" nginx -c "$d/nginx.conf" -p "$d" -e "$d/error.log" &
  sleep 0.5
  url=$1://127.0.0.1:$port/api/vmRestorePoints
}

# measure MODE: records the upstream through both proxies, checks the body, compares them.
measure() {
  local mode=$1 origin rev fwd only trust=() fwd_trust=()
  upstream "$mode"
  origin=${url%/api/*}
  if [ "$mode" = https ]; then
    only=${origin#https://}; trust=(--upstream-ca "$work/up.pem"); fwd_trust=(--cacert "$work/ca.pem")
  else
    only=$origin
  fi
  "${srv[@]}" "$bin" record --upstream "$origin" "${trust[@]}" --listen 127.0.0.1:0 --out "$work/$mode-reverse.yaml" \
    > "$work/$mode-rev.out" 2>/dev/null &
  rev=$(started "$work/$mode-rev.out")
  "${srv[@]}" "$bin" record --forward --only "$only" "${trust[@]}" --ca-out "$work/ca.pem" --listen 127.0.0.1:0 \
    --out "$work/$mode-forward.yaml" > "$work/$mode-fwd.out" 2>/dev/null &
  fwd=$(started "$work/$mode-fwd.out")
  if ! cmp -s <(curl -s "$rev/api/vmRestorePoints") "$body" \
    || ! cmp -s <(curl -s -x "$fwd" "${fwd_trust[@]}" "$url") "$body"; then
    echo "$mode: the body through a proxy differs from $body" >&2
    return 1
  fi
  reverse_load() { load "$rev/api/vmRestorePoints"; }
  forward_load() { load -x "$fwd" "${fwd_trust[@]}" "$url"; }
  compare "$mode" "$(stat -c %s "$body")"
}

python3 "$here/../../shared/bench/gen_xml.py" -n "$n" -o "$work/data" >/dev/null
body=$work/data/base_$n.xml
for mode in ${MODES:-http https}; do
  case $mode in
    http|https) measure "$mode";;
    *) echo "unknown mode $mode (http, https)" >&2; exit 2;;
  esac
done
