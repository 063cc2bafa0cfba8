#!/usr/bin/env bash
# Reproduces the replay figures of the mock-server issue: `emtape serve` against WireMock,
# talkback, mitmproxy and nginx in the same run (../shared/bench/bench_replay.sh), for the
# 1,000- and the 10-restore-point bodies, then the time to `listening on`. The cassette served
# is made by `emtape record` from the bench's upstream, as a user would make it.
#   benches/replay.sh            (EMTAPE_BENCH_DIR=../shared/bench; PEERS, DUR, ... as the bench takes)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${EMTAPE_BENCH_DIR:-$here/../../shared/bench}
bin=$here/../target/release/emtape
export PATH=/opt/peers/cargo/bin:$PATH
(cd "$here/.." && cargo build --release --quiet)
export PROJECT_NAME=emtape
export PROJECT_RECORD_CMD="$bin record --listen 127.0.0.1:{PORT} --upstream {UPSTREAM_URL} --out {OUT_DIR}/cassette.yaml"
export PROJECT_REPLAY_CMD="$bin serve {CASSETTE_DIR}/cassette.yaml --listen 127.0.0.1:{PORT}"
for n in ${SIZES:-1000 10}; do
  N=$n "$bench/bench_replay.sh" 2>/dev/null | grep '^RESULT'
done
"$here/startup.sh"
