#!/usr/bin/env bash
# The model's figures on a large EM: a cassette whose restore point list holds N points (10,000
# by default; one entity recorded, every other point derived), then
#   - the time from exec to `listening on` (startup.sh, median of RUNS),
#   - the query service's latency for a VM's newest point (p50/p95 of QUERIES sequential
#     requests on one keep-alive connection, after one warm-up request).
#   benches/model.sh             (N=10000 QUERIES=500 RUNS=11)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${EMTAPE_BIN:-$here/../target/release/emtape}
n=${N:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$here/.." && cargo build --release --quiet)
python3 "$here/gen_points.py" "$here/../cassettes/reference/vm-restore.yaml" "$work/large.yaml" "$n"
size=$(du -k "$work/large.yaml" | cut -f1)
RUNS=${RUNS:-11} EMTAPE_BIN=$bin "$here/startup.sh" "$work/large.yaml" | sed "s/^RESULT bench=startup/RESULT bench=startup points=$n cassette_kb=$size/"
python3 - "$bin" "$work/large.yaml" "${QUERIES:-500}" "$n" <<'PY'
import base64, http.client, statistics, subprocess, sys, time
bin, cassette, queries, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
p = subprocess.Popen([bin, "serve", "--listen", "127.0.0.1:0", cassette], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
try:
    url = p.stdout.readline().decode().split()[-1]
    host = url.split("//")[1]
    c = http.client.HTTPConnection(host)
    c.request("POST", "/api/sessionMngr/?v=latest", headers={"Authorization": "Basic " + base64.b64encode(b"u:p").decode()})
    r = c.getresponse(); r.read()
    token = r.getheader("X-RestSvcSessionId")
    q = '/api/query?type=VmRestorePoint&filter=VmDisplayName==%22ubuntu88%22&sortDesc=CreationTime&pageSize=1'
    def once():
        t0 = time.perf_counter()
        c.request("GET", q, headers={"X-RestSvcSessionId": token})
        r = c.getresponse(); body = r.read()
        assert r.status == 200 and b'PagesCount="%d"' % (n // 100) in body, body[:300]
        return (time.perf_counter() - t0) * 1000
    first = once()
    times = sorted(once() for _ in range(queries))
    print("RESULT bench=query points=%d queries=%d first_ms=%.1f p50_ms=%.2f p95_ms=%.2f" % (
        n, queries, first, statistics.median(times), times[int(len(times) * 0.95)]))
finally:
    p.kill(); p.wait()
PY
