#!/usr/bin/env bash
# Time from exec to the `listening on` line of `emtape serve`, in milliseconds (median of RUNS).
#   startup.sh [CASSETTE...]      default: the built-in reference cassettes
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${EMTAPE_BIN:-$here/../target/release/emtape}
runs=${RUNS:-21}
python3 - "$bin" "$runs" "$@" <<'PY'
import statistics, subprocess, sys, time
bin, runs, cassettes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    p = subprocess.Popen([bin, "serve", "--listen", "127.0.0.1:0", *cassettes], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    times.append((time.perf_counter() - t0) * 1000)
    p.kill(); p.wait()
    assert line.startswith(b"listening on "), line
label = " ".join(cassettes) or "built-in reference cassettes"
print("RESULT bench=startup cassettes=%r runs=%d median_ms=%.1f max_ms=%.1f" % (label, runs, statistics.median(times), max(times)))
PY
