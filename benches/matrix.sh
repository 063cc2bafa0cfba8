#!/usr/bin/env bash
# The release matrix: wall time of the scenario matrix over 5 releases x 2 representations (zero
# poll interval), and the client matrix's own time per release (mock start, check, stop; the
# client's excluded) with a client that does nothing but exit.
#   benches/matrix.sh            (RUNS=10)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${EMTAPE_BIN:-$here/../target/release/emtape}
runs=${RUNS:-10}
(cd "$here/.." && cargo build --release --quiet)
best=999
for _ in $(seq "$runs"); do
  start=$(date +%s.%N)
  "$bin" matrix > /dev/null
  end=$(date +%s.%N)
  best=$(python3 -c "import sys; print(min(float(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2])))" "$best" "$start" "$end")
done
echo "RESULT bench=matrix-scenario releases=5 representations=2 best_of=$runs seconds=$best"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" matrix --client true --json "$work/client.json" > /dev/null || true
python3 - "$work/client.json" <<'PY'
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
o = [c["overhead_ms"] for c in cells]
print("RESULT bench=matrix-client releases=%d overhead_ms_max=%.1f overhead_ms_mean=%.1f" % (len(o), max(o), sum(o) / len(o)))
PY
