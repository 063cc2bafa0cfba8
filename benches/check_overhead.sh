#!/usr/bin/env bash
# What a client check costs: `emtape serve` and `emtape serve --scenario scenarios/vm-restore.yaml`
# (the built-in cassettes) answering the same logged-on request under load (oha, from the peer
# set), RUNS times each, alternating; the medians of their rps and the check's cost in percent.
#   benches/check_overhead.sh   (RUNS=3 DUR=10 C=16 PATHS=/api/vmRestorePoints; OHA=/opt/peers/cargo/bin/oha)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${EMTAPE_BIN:-$here/../target/release/emtape}
oha=${OHA:-/opt/peers/cargo/bin/oha}
runs=${RUNS:-3}
dur=${DUR:-10}
c=${C:-16}
path=${PATHS:-/api/vmRestorePoints}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$here/.." && cargo build --release --quiet)
measure() { # $1: label, rest: serve arguments; prints the rps
  "$bin" serve --listen 127.0.0.1:0 --session-timeout 3600 "${@:2}" > "$work/serve.out" 2>/dev/null &
  local pid=$!
  for _ in $(seq 50); do [ -s "$work/serve.out" ] && break; sleep 0.1; done
  local url token
  url=$(head -1 "$work/serve.out" | awk '{print $3}')
  token=$(curl -s -X POST -u a:b -D - -o /dev/null "$url/api/sessionMngr/?v=latest" | awk 'tolower($1) == "x-restsvcsessionid:" {print $2}' | tr -d '\r')
  "$oha" -c "$c" -z 2s --no-tui -H "X-RestSvcSessionId: $token" "$url$path" > /dev/null 2>&1
  "$oha" -c "$c" -z "${dur}s" --no-tui --output-format json -H "X-RestSvcSessionId: $token" "$url$path" > "$work/$1.json" 2>/dev/null
  kill $pid; wait $pid 2>/dev/null || true
  python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['summary']['requestsPerSec'], 1))" "$work/$1.json"
}
plain=(); checked=()
for _ in $(seq "$runs"); do
  plain+=("$(measure plain)")
  checked+=("$(measure checked --scenario scenarios/vm-restore.yaml)")
done
python3 - "${plain[*]}" "${checked[*]}" "$c" "$dur" "$path" <<'PY'
import statistics, sys
plain = [float(x) for x in sys.argv[1].split()]
checked = [float(x) for x in sys.argv[2].split()]
p, k = statistics.median(plain), statistics.median(checked)
print(f"RESULT bench=check_overhead path={sys.argv[5]} c={sys.argv[3]} dur_s={sys.argv[4]} runs={len(plain)} "
      f"serve_rps={p:.0f} serve_scenario_rps={k:.0f} cost_percent={100 * (p - k) / p:.1f} "
      f"serve_runs={plain} scenario_runs={checked}")
PY
