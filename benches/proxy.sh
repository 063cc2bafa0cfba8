#!/usr/bin/env bash
# Reproduces the recording-proxy figures: emtape record against mitmproxy and talkback in the
# same run (../shared/bench/bench_proxy.sh), for the 1,000- and 10-restore-point bodies. Every
# exchange is recorded; a body equal to the last one recorded for the same request is stored
# once (`body_same_as`). Set KEEP=1 to keep the cassettes for inspection.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${EMTAPE_BENCH_DIR:-$here/../../shared/bench}
export PATH=/opt/peers/cargo/bin:$PATH
(cd "$here/.." && cargo build --release --quiet)
export PROJECT_NAME=emtape
export PROJECT_RECORD_CMD="$here/../target/release/emtape record --listen 127.0.0.1:{PORT} --upstream {UPSTREAM_URL} --out {OUT_DIR}/cassette.yaml"
for n in ${SIZES:-1000 10}; do
  N=$n "$bench/bench_proxy.sh" 2>/dev/null | grep '^RESULT'
done
