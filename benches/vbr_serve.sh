#!/usr/bin/env bash
# The VBR REST mock against the EM mock under the same load (issue 28: "serve performance within
# 20% of the EM mock's"), like for like, logged on, oha at concurrency C for DUR seconds, RUNS
# times alternating; medians, and VBR's rps as a share of EM's:
#   entity    EM GET /api/vmRestorePoints/{id}?format=Entity   VBR GET /api/v1/restorePoints/{id}
#   recorded  EM GET /api/vmRestorePoints (as recorded)        VBR GET /api/v1/backups (as recorded)
#   page      EM GET /api/query?type=VmRestorePoint&pageSize=4 VBR GET /api/v1/restorePoints?limit=4
#   benches/vbr_serve.sh        (RUNS=3 DUR=8 C=16; OHA=/opt/peers/cargo/bin/oha)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${EMTAPE_BIN:-$here/../target/release/emtape}
oha=${OHA:-/opt/peers/cargo/bin/oha}
runs=${RUNS:-3}
dur=${DUR:-8}
c=${C:-16}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$here/.." && cargo build --release --quiet)
start() { # $1: --release value; prints the URL
  "$bin" serve --listen 127.0.0.1:0 --session-timeout 3600 --release "$1" > "$work/serve.out" 2>/dev/null &
  echo $! > "$work/pid"
  for _ in $(seq 50); do [ -s "$work/serve.out" ] && break; sleep 0.1; done
  head -1 "$work/serve.out" | awk '{print $3}'
}
load() { # $1: label, $2: URL, rest: oha header arguments; prints the rps
  "$oha" -c "$c" -z 2s --no-tui "${@:3}" "$2" > /dev/null 2>&1
  "$oha" -c "$c" -z "${dur}s" --no-tui --output-format json "${@:3}" "$2" > "$work/$1.json" 2>/dev/null
  python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['summary']['requestsPerSec'], 1))" "$work/$1.json"
}
em_entity=(); em_list=(); em_page=(); vbr_entity=(); vbr_list=(); vbr_page=()
point=7a5e8f7f-3f08-4df6-9b3e-7a1f2c3d4e5f
for _ in $(seq "$runs"); do
  url=$(start 13)
  token=$(curl -s -X POST -u a:b -D - -o /dev/null "$url/api/sessionMngr/?v=latest" | awk 'tolower($1) == "x-restsvcsessionid:" {print $2}' | tr -d '\r')
  href=$(curl -s -H "X-RestSvcSessionId: $token" "$url/api/vmRestorePoints" | grep -o 'Href="[^"]*vmRestorePoints/[0-9a-f-]*?format=Entity"' | head -1 | sed 's/Href="//; s/"$//; s/&amp;/\&/g')
  em_entity+=("$(load em-entity "$href" -H "X-RestSvcSessionId: $token")")
  em_list+=("$(load em-list "$url/api/vmRestorePoints" -H "X-RestSvcSessionId: $token")")
  em_page+=("$(load em-page "$url/api/query?type=VmRestorePoint&pageSize=4&page=1" -H "X-RestSvcSessionId: $token")")
  kill "$(cat "$work/pid")"; wait 2>/dev/null || true
  url=$(start vbr-1.3-rev1)
  token=$(curl -s -X POST -H 'x-api-version: 1.3-rev1' -d 'grant_type=password&username=a&password=b' "$url/api/oauth2/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  h=(-H "x-api-version: 1.3-rev1" -H "Authorization: Bearer $token")
  point=$(curl -s "${h[@]}" "$url/api/v1/restorePoints?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
  vbr_entity+=("$(load vbr-entity "$url/api/v1/restorePoints/$point" "${h[@]}")")
  vbr_list+=("$(load vbr-list "$url/api/v1/backups" "${h[@]}")")
  vbr_page+=("$(load vbr-page "$url/api/v1/restorePoints?limit=4" "${h[@]}")")
  kill "$(cat "$work/pid")"; wait 2>/dev/null || true
done
python3 - "${em_entity[*]}" "${vbr_entity[*]}" "${em_list[*]}" "${vbr_list[*]}" "${em_page[*]}" "${vbr_page[*]}" "$c" "$dur" <<'PY'
import statistics, sys
med = lambda s: statistics.median(float(x) for x in s.split())
ee, ve, el, vl, ep, vp = (med(a) for a in sys.argv[1:7])
print(f"RESULT bench=vbr_serve c={sys.argv[7]} dur_s={sys.argv[8]} goal='VBR >= 80% of EM'")
for name, em, vbr in [("entity", ee, ve), ("recorded", el, vl), ("page", ep, vp)]:
    print(f"  {name:<9} EM {em:>8.0f} rps   VBR {vbr:>8.0f} rps   {100 * vbr / em:4.0f}%  {'' if vbr >= 0.8 * em else 'FAIL'}")
PY
