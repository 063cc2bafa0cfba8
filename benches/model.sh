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
python3 - "$here/../cassettes/reference/vm-restore.yaml" "$work/large.yaml" "$n" <<'PY'
import re, sys, uuid
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(src).read()
start = text.index("      <EntityReferences")
end = text.index("      </EntityReferences>\n") + len("      </EntityReferences>\n")
refs = []
for i in range(n):
    vm = "ubuntu88" if i % 100 == 0 else "vm%d" % (i % 97)
    rid = "6c958531-3177-4055-b0ce-dc4ef1ce6433" if i == 0 else str(uuid.UUID(int=i + 1))
    day = 1 + i % 28
    name = "%s@2025-%02d-%02d %02d:%02d:07" % (vm, 1 + (i // 28) % 12, day, i % 24, i % 60)
    server = "a490c017-2c1c-40ee-8bcf-73bcce6ab36f" if i % 2 else "00fd67d9-2b4c-4c56-8a95-0b3dbec7ae43"
    rp, bf = uuid.UUID(int=10**6 + i), uuid.UUID(int=2 * 10**6 + i)
    o = "{{origin}}/api"
    refs.append(
        '        <Ref Type="VmRestorePointReference" Href="%s/vmRestorePoints/%s" Name="%s" UID="urn:veeam:VmRestorePoint:%s">\n'
        '          <Links>\n'
        '            <Link Rel="Up" Type="BackupServerReference" Href="%s/backupServers/%s" Name="enterprise01.tech.local" />\n'
        '            <Link Rel="Up" Type="RestorePointReference" Href="%s/restorePoints/%s" Name="Point %d" />\n'
        '            <Link Rel="Up" Type="BackupFileReference" Href="%s/backupFiles/%s" Name="File%d.vib" />\n'
        '            <Link Rel="Alternate" Type="VmRestorePoint" Href="%s/vmRestorePoints/%s?format=Entity" Name="%s" />\n'
        '          </Links>\n'
        '        </Ref>\n' % (o, rid, name, rid, o, server, o, rp, i, o, bf, i, o, rid, name))
body = '      <EntityReferences xmlns="http://www.veeam.com/ent/v1.0">\n' + "".join(refs) + "      </EntityReferences>\n"
open(out, "w").write(text[:start] + body + text[end:])
PY
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
