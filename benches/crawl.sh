#!/usr/bin/env bash
# Crawl throughput against the built-in mock serving a generated N-point cassette (the one
# benches/model.sh makes), at concurrency 4 and 16, and lint time on that cassette.
#   benches/crawl.sh             (N=10000 MAX=2000 SAMPLE=1000000)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${EMTAPE_BIN:-$here/../target/release/emtape}
n=${N:-10000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$here/.." && cargo build --release --quiet)
python3 "$here/gen_points.py" "$here/../cassettes/reference/vm-restore.yaml" "$work/large.yaml" "$n"
"$bin" serve --listen 127.0.0.1:0 "$work/large.yaml" > "$work/serve.out" 2>/dev/null &
for _ in $(seq 50); do [ -s "$work/serve.out" ] && break; sleep 0.1; done
url=$(head -1 "$work/serve.out" | awk '{print $3}')
export EMTAPE_BENCH_PW=bench
for c in 4 16; do
  start=$(date +%s.%N)
  "$bin" crawl --target "$url" --user bench --password-env EMTAPE_BENCH_PW --out "$work/crawl-$c.yaml" \
    --repr xml --concurrency "$c" --max-requests "${MAX:-2000}" --sample "${SAMPLE:-1000000}" > "$work/crawl-$c.out" 2>/dev/null || true
  end=$(date +%s.%N)
  requests=$(grep -o '[0-9]* requests' "$work/crawl-$c.out" | head -1 | cut -d' ' -f1)
  python3 -c "import sys; r=int(sys.argv[1]); t=float(sys.argv[3])-float(sys.argv[2]); print('RESULT bench=crawl points=%s concurrency=%s requests=%d seconds=%.2f rps=%.0f' % (sys.argv[4], sys.argv[5], r, t, r/t))" "$requests" "$start" "$end" "$n" "$c"
done
start=$(date +%s.%N)
"$bin" lint "$work/large.yaml" > /dev/null || true
end=$(date +%s.%N)
python3 -c "import sys; print('RESULT bench=lint points=%s seconds=%.2f' % (sys.argv[3], float(sys.argv[2])-float(sys.argv[1])))" "$start" "$end" "$n"
