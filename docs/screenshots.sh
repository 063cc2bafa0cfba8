#!/usr/bin/env bash
# Writes the screenshots of docs/ (each HTML report kind, desktop and phone widths) from the
# shipped cassettes and scenario, with Debian's headless Chromium:
#   docs/screenshots.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release --quiet
bin=target/release/emtape
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" run --release 11 --var api_version=v1_7 --html "$work/run.html" > /dev/null || true
"$bin" run --var poll_interval=0s --coverage-html "$work/coverage.html" > /dev/null
"$bin" diff tests/fixtures/em-9.5-2013/vm-restore.yaml cassettes/reference/vm-restore.yaml --html "$work/diff.html" > /dev/null || true
"$bin" matrix --client 'python3 examples/restore_client.py --read-vm-name' --html "$work/matrix.html" > /dev/null || true
"$bin" serve --listen 127.0.0.1:0 --scenario scenarios/vm-restore.yaml --until-complete 1 --grace 0s \
  --html "$work/check.html" > "$work/serve.out" 2>/dev/null &
for _ in $(seq 50); do [ -s "$work/serve.out" ] && break; sleep 0.1; done
python3 examples/restore_client.py --no-poll --url "$(head -1 "$work/serve.out" | awk '{print $3}')" > /dev/null
wait
for kind in run check diff matrix coverage; do
  for size in desktop:1280,900 phone:390,844; do
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
      --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$work/profile" \
      --window-size="${size#*:}" --screenshot="docs/report-$kind-${size%%:*}.png" "file://$work/$kind.html" 2> /dev/null
  done
done
ls -1 docs/report-*.png
