#!/usr/bin/env bash
# Reproduces the diff figures: `emtape diff` against xmldiff (defaults, and its fastest setting
# `--unique-attributes UID --fast-match`) in the same run (../shared/bench/bench_diff.sh), then
# the accuracy of emtape's report on every pair against the generator's ground truth.
#   benches/diff.sh        (SIZES="1000 10000 100000" by default; DIFF_TIMEOUT as the bench takes)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${EMTAPE_BENCH_DIR:-$here/../../shared/bench}
bin=$here/../target/release/emtape
data=${BENCH_DATA:-/tmp/veeam-bench-data}
(cd "$here/.." && cargo build --release --quiet)
export PROJECT_NAME=emtape
export PROJECT_DIFF_CMD="$bin diff {BASE} {DRIFTED}"
export SIZES=${SIZES:-1000 10000 100000}
"$bench/bench_diff.sh" 2>/dev/null | grep '^RESULT'
for n in $SIZES; do
  report=$(mktemp)
  "$bin" diff --format json "$data/base_$n.xml" "$data/drifted_$n.xml" > "$report" || true
  python3 "$here/diff_accuracy.py" "$report" "$data/drifted_$n.expected.json"
  rm -f "$report"
done
