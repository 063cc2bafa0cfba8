#!/usr/bin/env python3
"""The scale figures of issue 27, each with its goal, on the estates gen_estate.py writes:
    scale.py BIN DIR_13 DIR_12 SCALE
(benches/scale.sh builds, generates and calls this). Figures are printed as RESULT lines and a
table; a goal that is not met says FAIL. Peak RSS is VmHWM (serve) or GNU time's maximum
resident set size (lint, diff, pack).

The estates are generated as YAML cassettes and packed (`emtape pack`, the form for an estate
this size: the bodies stay on disk); serve, lint and diff read the packs, and serve's start is
also measured on the YAML for comparison."""

import base64
import http.client
import os
import random
import re
import statistics
import subprocess
import sys
import time

BIN, E13, E12, SCALE = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
rows = []


def figure(name, value, unit, goal, ok):
    rows.append((name, value, unit, goal, ok))
    print(f"RESULT bench=scale scale={SCALE} figure={name} value={value} unit={unit} goal={goal!r} met={ok}", flush=True)


def cassettes(d, ext="emtape"):
    return [os.path.join(d, f"estate.{ext}"), os.path.join(d, f"estate-json.{ext}")]


def timed(cmd):
    """Seconds and peak RSS (MB) of a command, by GNU time."""
    t0 = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    rss = int(out.stderr.strip().splitlines()[-1]) / 1024
    return seconds, rss, out


class Em:
    def __init__(self, files):
        self.t0 = time.perf_counter()
        self.p = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--session-timeout", "3600", *files],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.url = self.p.stdout.readline().decode().split()[-1]
        self.listening = time.perf_counter() - self.t0
        self.host = self.url.split("//")[1]
        self.c = http.client.HTTPConnection(self.host, timeout=600)
        self.c.request("POST", "/api/sessionMngr/?v=latest",
                       headers={"Authorization": "Basic " + base64.b64encode(b"bench:bench").decode()})
        r = self.c.getresponse()
        r.read()
        self.token = r.getheader("X-RestSvcSessionId")

    def get(self, path, accept="application/xml"):
        self.c.request("GET", path, headers={"X-RestSvcSessionId": self.token, "Accept": accept})
        r = self.c.getresponse()
        return r.status, r.read()

    def rss_mb(self):
        status = open(f"/proc/{self.p.pid}/status").read()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024

    def stop(self):
        self.p.kill()
        self.p.wait()


def ms(f, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


for d in [E13, E12]:
    for yaml in cassettes(d, "yaml"):
        seconds, rss, out = timed([BIN, "pack", yaml])
        assert out.returncode == 0, out.stderr
        if d == E13 and yaml.endswith("estate.yaml"):
            figure("pack_xml_s", round(seconds, 2), "s", "(once per recording)", True)
            figure("pack_peak_rss_mb", round(rss), "MB", "(for the record)", True)

# The first answer of an entity nobody recorded alone: a task session of the middle job.
ids = {}
with open(os.path.join(E13, "estate.yaml")) as f:
    head = f.read(64 << 20)
for coll in ["backupTaskSessions", "vmRestorePoints", "jobs", "backupSessions", "restorePoints", "backupFiles"]:
    ids[coll] = sorted(set(re.findall(rf'/api/{coll}/([0-9a-f-]{{36}})"', head)))[:500]
first = ids["backupTaskSessions"][len(ids["backupTaskSessions"]) // 2]
em = Em(cassettes(E13, "yaml"))
status, body = em.get(f"/api/backupTaskSessions/{first}?format=Entity")
yaml_first_ms = (time.perf_counter() - em.t0) * 1000
assert status == 200, body[:300]
figure("yaml_serve_first_entity_ms", round(yaml_first_ms), "ms", "(the YAML, for the record)", True)
figure("yaml_serve_listening_ms", round(em.listening * 1000), "ms", "(the YAML, for the record)", True)
figure("yaml_serve_peak_rss_mb", round(em.rss_mb()), "MB", "(the YAML, for the record)", True)
em.stop()
em = Em(cassettes(E13))
status, body = em.get(f"/api/backupTaskSessions/{first}?format=Entity")
first_ms = (time.perf_counter() - em.t0) * 1000
assert status == 200, body[:300]
figure("serve_first_entity_ms", round(first_ms), "ms", "< 1000", first_ms < 1000)
figure("serve_listening_ms", round(em.listening * 1000), "ms", "(to `listening on`)", True)
paths = [f"/api/{c}/{i}?format=Entity" for c, xs in ids.items() for i in xs[:50]]
random.seed(1)
p50 = ms(lambda: em.get(random.choice(paths)), 500)
figure("entity_p50_ms", round(p50, 2), "ms", "< 2", p50 < 2)
p50j = ms(lambda: em.get(random.choice(paths), "application/json"), 500)
figure("entity_json_p50_ms", round(p50j, 2), "ms", "< 2", p50j < 2)
# A request nothing recorded answers: EM's 404, with the closest recorded request named.
misses = [f"/api/backupServers/x{i}/jobs" for i in range(5)]
miss = ms(lambda: em.get(random.choice(misses)), 5)
figure("unmatched_explained_p50_ms", round(miss, 2), "ms", "(a 404 naming the closest request)", True)
query = "/api/query?type=BackupTaskSession&filter=Result==%22Failed%22&sortDesc=CreationTime&pageSize=100&page=2"
t0 = time.perf_counter()
status, body = em.get(query)
first_query = (time.perf_counter() - t0) * 1000
assert status == 200, body[:300]
figure("query_first_ms", round(first_query, 2), "ms", "(the query's first page, matched anew)", True)
# Its next pages are read from what it matched: a paging client asks the same query each time.
q50 = ms(lambda: em.get(query), 50)
figure("query_filtered_sorted_paged_p50_ms", round(q50, 2), "ms", "< 5", q50 < 5)
t0 = time.perf_counter()
page, points = 1, 0
while True:
    status, body = em.get(f"/api/query?type=VmRestorePoint&pageSize=1000&page={page}&format=Entities")
    assert status == 200, body[:300]
    n = body.count(b"<VmRestorePoint ")
    points += n
    if n < 1000:
        break
    page += 1
rate = points / (time.perf_counter() - t0)
figure("query_paging_points_per_s", round(rate), "points/s", ">= 20000", rate >= 20000)
figure("query_paging_points", points, "points", "(all VM restore points)", True)
rss = em.rss_mb()
figure("serve_peak_rss_mb", round(rss), "MB", "< 1024", rss < 1024)

# Crawl of the mock serving it, concurrency 8.
env = dict(os.environ, EMTAPE_BENCH_PW="bench")
out = "/tmp/emtape-scale-crawl.yaml"
t0 = time.perf_counter()
r = subprocess.run([BIN, "crawl", "--target", em.url, "--user", "bench", "--password-env", "EMTAPE_BENCH_PW",
                    "--out", out, "--repr", "xml", "--concurrency", "8", "--max-requests", "5000", "--sample", "1000000"],
                   capture_output=True, text=True, env=env)
seconds = time.perf_counter() - t0
requests = int(re.search(r"(\d+) requests", r.stdout + r.stderr).group(1))
figure("crawl_rps_c8", round(requests / seconds), "requests/s", ">= 1000", requests / seconds >= 1000)
if os.path.exists(out):
    os.remove(out)
em.stop()

seconds, rss, _ = timed([BIN, "lint", *cassettes(E13)])
figure("lint_s", round(seconds, 2), "s", "< 5", seconds < 5)
figure("lint_peak_rss_mb", round(rss), "MB", "(for the record)", True)
seconds, rss, _ = timed([BIN, "diff", "--fail-on", "never", os.path.join(E12, "estate.emtape"), os.path.join(E13, "estate.emtape")])
figure("diff_s", round(seconds, 2), "s", "< 10", seconds < 10)
figure("diff_peak_rss_mb", round(rss), "MB", "< 2048", rss < 2048)

print()
print(f"scale {SCALE}: {'figure':<36} {'value':>12}  goal")
for name, value, unit, goal, ok in rows:
    print(f"  {'    ' if ok else 'FAIL'} {name:<36} {value:>12} {unit:<10} {goal}")
