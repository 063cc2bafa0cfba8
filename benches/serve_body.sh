#!/usr/bin/env bash
# Serves one recorded body with `emtape serve`, for ../shared/bench/bench_replay.sh:
#   serve_body.sh BODY_FILE URL_PATH PORT WORKDIR
# Wraps BODY_FILE in a one-exchange cassette (GET URL_PATH -> 200 application/xml), then execs
# the server in the foreground, as the bench's PROJECT_REPLAY_CMD slot expects.
set -euo pipefail
body=$1 path=$2 port=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
bin=${EMTAPE_BIN:-$here/../target/release/emtape}
cassette=$work/emtape-body.yaml
{
  printf 'format: emtape/cassette-v1\nexchanges:\n- seq: 1\n  request:\n    method: GET\n    uri: %s\n' "$path"
  printf '  response:\n    status: 200\n    headers:\n    - Content-Type: application/xml; charset=utf-8\n    body: |\n'
  sed 's/^/      /' "$body"
} > "$cassette"
exec "$bin" serve "$cassette" --listen "127.0.0.1:$port"
