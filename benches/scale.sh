#!/usr/bin/env bash
# Issue 27's figures, each with its goal, on an enterprise-size estate (benches/gen_estate.py):
# serve's first entity answer and peak RSS, entity and query latency, paging through every VM
# restore point by the query service, crawl at concurrency 8, lint, and diff of two releases'
# estates (12 against 13). The estates are generated once per SCALE under target/scale/.
#   benches/scale.sh            (SCALE=0.1: 1,000 VMs, 200 jobs, 50,000 task sessions; SCALE=1
#                                is issue 27's size: 10,000 VMs, 2,000 jobs, 500,000 task sessions)
# The record figures are ../shared/bench/bench_proxy.sh's (see benches/proxy.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${EMTAPE_BIN:-$root/target/release/emtape}
scale=${SCALE:-0.1}
(cd "$root" && cargo build --release --quiet)
command -v /usr/bin/time >/dev/null || { echo "scale.sh needs GNU time (apt-get install time)"; exit 2; }
for release in 13 12; do
  dir="$root/target/scale/$scale-$release"
  if [ ! -s "$dir/estate-json.yaml" ]; then
    python3 "$here/gen_estate.py" "$dir.tmp" "$scale" "$release" && rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
done
du -sh "$root/target/scale/$scale-13"/*.yaml
python3 "$here/scale.py" "$bin" "$root/target/scale/$scale-13" "$root/target/scale/$scale-12" "$scale"
