#!/usr/bin/env bash
# Three public, unmodified EM REST clients against `emtape serve --release R --tls`, on every
# release: PyPI veeam 0.1.5 (every public VeeamClient method; it logs on with ?v=v1_4, so 11, 12
# and 13 must refuse it), PyPI veeam-exporter 1.1.0 (its own CLI in dry mode with its shipped
# metric files) and Linuxfabrik veeam-status (the plugin is not on PyPI: its calls are replayed
# through its library linuxfabrik-lib, lib.veeam.get_token + lib.url.fetch_json). Prints a
# client x release table (PASS with the count of calls answered with non-empty data /
# REFUSED-BY-VERSION / FAIL with the error), per-call detail and the requests each client made
# on one release (from the server's -v log). Exits 1 if a client fails where it should work.
# The clients get a venv in target/public-clients-venv (created once, from PyPI) and trust the
# certificate emtape mints (--tls-cert-out). Their "last 24 h" calls see a clock one hour after
# the estate's newest backup session (CLOCK=wall for the real clock). Uses the existing binary.
#   benches/public_clients.sh   (RELEASES="9.5 10 11 12 13" SHOW=10 CLOCK=estate KEEP=0;
#                                EMTAPE_BIN=target/release/emtape)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${EMTAPE_BIN:-$root/target/release/emtape}
releases=${RELEASES:-9.5 10 11 12 13}
show=${SHOW:-10}
clock=${CLOCK:-estate}
venv=$root/target/public-clients-venv
work=$(mktemp -d /tmp/public-clients.XXXXXX)
spid=
stop_server() {
  [ -n "$spid" ] || return 0
  kill -TERM "$spid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  spid=
}
cleanup() { stop_server; if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM
start=$(date +%s)
[ -x "$bin" ] || { echo "no emtape binary at $bin (build it with cargo build --release)" >&2; exit 2; }

# --- the clients, from PyPI, in their own venv --------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
py=$venv/bin/python
if ! "$py" -c 'import veeam.client, veeam_exporter.veeam_api, lib.veeam, lib.url' 2>/dev/null; then
  "$py" -m pip install -q --upgrade pip
  # veeam-exporter pins requests==2.23.0, PyYAML==5.3.1, tenacity==6.2.0 (no Python 3.11 wheels for
  # that PyYAML): install it without them, then versions that run on 3.11. It imports urllib3's
  # SubjectAltNameWarning, gone in urllib3 2, hence urllib3<2. linuxfabrik-lib's lib.veeam and
  # lib.url only need httpx; its other dependencies (pywinrm, lxml, ...) serve other modules.
  "$py" -m pip install -q --no-deps veeam==0.1.5 veeam-exporter==1.1.0 linuxfabrik-lib==8.2.0
  "$py" -m pip install -q --no-warn-conflicts 'requests>=2.31,<3' 'urllib3>=1.26,<2' 'PyYAML>=6' 'tenacity>=8' 'Jinja2>=3' \
    'python-dateutil>=2.8' 'prometheus-client>=0.17' 'httpx[http2]>=0.26'
fi
"$py" -m pip list 2>/dev/null | grep -iE '^(veeam|veeam-exporter|linuxfabrik-lib|requests|urllib3|httpx|prometheus.client|jinja2|tenacity|pyyaml) ' \
  | awk '{printf "%s %s  ", $1, $2} END {print ""}'

# --- one server per release, each client in turn ------------------------------------------------
lines() { wc -l < "$1" | tr -d ' '; }
slice() { sleep 0.3; tail -n +"$(( $2 + 1 ))" "$1"; }  # the server's log lines after line $2
for r in $releases; do
  d=$work/$r; mkdir -p "$d"
  "$bin" serve --release "$r" --tls --tls-cert-out "$d/cert.pem" --listen 127.0.0.1:0 -v \
    > "$d/serve.out" 2> "$d/serve.log" &
  spid=$!
  for _ in $(seq 100); do
    grep -q '^listening on ' "$d/serve.out" 2>/dev/null && [ -s "$d/cert.pem" ] && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '^listening on ' "$d/serve.out" 2>/dev/null; then
    echo "emtape serve --release $r did not start (it exited, or no "listening on" within 10 s): $(tail -3 "$d/serve.log")" | tee "$d/server-failed" >&2
    stop_server; continue
  fi
  url=$(sed -n 's/^listening on \(https:[^ ]*\).*/\1/p' "$d/serve.out" | head -1)
  echo "release $r: $url"
  if ! "$py" "$here/public_clients.py" probe "$url" "$d/cert.pem" > "$d/probe.json"; then
    echo "release $r: the probe (GET /api/, logon, /api/backupSessions) failed" | tee "$d/server-failed" >&2
    stop_server; continue
  fi
  now=wall
  [ "$clock" = wall ] || now=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["estate_now"])' "$d/probe.json")
  for c in veeam exporter linuxfabrik; do
    n=$(lines "$d/serve.log")
    # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a Session's verify (veeam sets only
    # that), and OpenSSL reads SSL_CERT_FILE: trust comes from the client's own setting alone.
    case $c in
      veeam)       env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE timeout 120 "$py" "$here/public_clients.py" veeam "$url" "$d/cert.pem" "$now" "$d/veeam.json" || true ;;
      exporter)    env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE timeout 240 "$py" "$here/public_clients.py" exporter "$url" "$d/cert.pem" "$now" "$d/exporter.json" "$d/exporter" || true ;;
      linuxfabrik) env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE SSL_CERT_FILE="$d/cert.pem" timeout 120 "$py" "$here/public_clients.py" linuxfabrik "$url" "$d/cert.pem" "$d/linuxfabrik.json" || true ;;
    esac
    slice "$d/serve.log" "$n" > "$d/$c.log"
  done
  stop_server
done

status=0
"$py" "$here/public_clients.py" report "$work" "$releases" "$show" || status=$?
echo "RESULT bench=public_clients releases=\"$releases\" seconds=$(( $(date +%s) - start )) status=$status"
exit "$status"
