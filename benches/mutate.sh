#!/usr/bin/env bash
# The mutation test at length, in release mode: the shipped cassettes, scenario and bodies
# damaged N times each (tests/integration/mutation.rs), and how many cases a second.
#   benches/mutate.sh            (N=5000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-5000}
cargo test --release --quiet --test integration --no-run 2>/dev/null
start=$(date +%s.%N)
EMTAPE_MUTATIONS=$n cargo test --release --quiet --test integration mutation 2>&1 | grep -E "test result|panicked" || true
end=$(date +%s.%N)
# Cases: 4 cassettes x N, the scenario 4N, bodies 4N.
python3 -c "import sys; n=int(sys.argv[1]); t=float(sys.argv[3])-float(sys.argv[2]); c=12*n; print('RESULT bench=mutation cases=%d seconds=%.1f cases_per_second=%.0f' % (c, t, c/t))" "$n" "$start" "$end"
