#!/usr/bin/env bash
# Soak: `emtape serve` (built-in cassettes) under 256 concurrent connections for DUR seconds
# (oha, from the peer set), with its resident memory sampled; then a logon storm of STORM
# logons that never log out, against the --max-sessions cap.
# Then 1,000 idle connections and 50 slowloris clients beside a normal load, and `emtape record`
# under 64 connections for REC_DUR seconds, counting exchanges on tape against answers.
#   benches/soak.sh             (DUR=60 STORM=100000 REC_DUR=60; OHA=/opt/peers/cargo/bin/oha)
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
# 1,000 idle connections and 50 clients sending a byte a second (slowloris) beside a normal load:
# neither holds a worker, so the normal load's rate and p99 stay as they are without them.
measure() { "$oha" -c 16 -z "${1}s" --no-tui --output-format json "$url/api/" 2>/dev/null |
  python3 -c "import json,sys; r=json.load(sys.stdin); print('%.0f %.2f' % (r['summary']['requestsPerSec'], r['latencyPercentiles']['p99']*1000))"; }
read -r base_rps base_p99 <<< "$(measure 10)"
python3 - "$url" > /dev/null 2>&1 <<'PY' &
import socket, sys, threading, time
host, port = sys.argv[1].split("//")[1].split(":")
idle = [socket.create_connection((host, int(port))) for _ in range(1000)]
def slow():
    s = socket.create_connection((host, int(port)))
    for b in b"GET /api/ HTTP/1.1\r\nHost: x\r\n\r\n":
        try:
            s.send(bytes([b]))
        except OSError:
            return
        time.sleep(1)
for _ in range(50):
    threading.Thread(target=slow, daemon=True).start()
time.sleep(30)
PY
held=$!
sleep 3
read -r busy_rps busy_p99 <<< "$(measure 10)"
open_conns=$(ls /proc/$pid/fd | wc -l)
kill $held 2>/dev/null || true
echo "RESULT bench=idle_and_slow idle_conns=1000 slow_clients=50 fds_open=$open_conns rps_without=$base_rps rps_with=$busy_rps p99_ms_without=$base_p99 p99_ms_with=$busy_p99"
# emtape record under 64 concurrent clients: every request answered is an exchange on tape.
rec_dur=${REC_DUR:-60}
"$bin" record --upstream "$url" --out "$work/recorded.yaml" --listen 127.0.0.1:0 > "$work/record.out" 2>/dev/null &
rec=$!
for _ in $(seq 50); do [ -s "$work/record.out" ] && break; sleep 0.1; done
proxy=$(head -1 "$work/record.out" | awk '{print $3}')
"$oha" -c 64 -z "${rec_dur}s" --no-tui --output-format json "$proxy/api/" > "$work/record.json" 2>/dev/null
kill -INT $rec; wait $rec 2>/dev/null || true
python3 - "$work/record.json" "$work/recorded.yaml" "$rec_dur" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
answered = sum(r.get("statusCodeDistribution", {}).values())
on_tape = sum(1 for line in open(sys.argv[2]) if line.startswith("- seq:"))
# Requests the load generator cut off at its deadline were answered and recorded but not counted.
print("RESULT bench=record_soak conns=64 dur_s=%s rps=%.0f answered=%d on_tape=%d lost=%d cut_off_at_deadline=%d" % (
    sys.argv[3], r["summary"]["requestsPerSec"], answered, on_tape, max(0, answered - on_tape), max(0, on_tape - answered)))
PY
