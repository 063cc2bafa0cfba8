#!/usr/bin/env bash
# Wall time of the whole VM restore flow (`emtape run`, XML and JSON) against the built-in mock
# with a zero poll interval: process start to exit, startup and mock included.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
(cd "$here/.." && cargo build --release --quiet)
bin=${EMTAPE_BIN:-$here/../target/release/emtape}
runs=${RUNS:-30}
python3 - "$bin" "$runs" "$here/../scenarios/vm-restore.yaml" <<'PY'
import statistics, subprocess, sys, time
bin, runs, scenario = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for accept in ("application/xml", "application/json"):
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run([bin, "run", scenario, "--var", "poll_interval=0s", "--var", "accept=" + accept],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        walls.append((time.perf_counter() - t0) * 1000)
        assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    print("RESULT bench=run_flow accept=%s runs=%d median_wall_ms=%.1f p90_wall_ms=%.1f max_wall_ms=%.1f"
          % (accept, runs, statistics.median(walls), sorted(walls)[int(runs * 0.9) - 1], max(walls)))
PY
