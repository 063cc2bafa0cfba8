#!/usr/bin/env bash
# The HTML report of a 10,000-ref diff: its size, and when it is ready (DOMContentLoaded) in
# headless Chromium, read off the page's own navigation timing over the DevTools protocol.
#   benches/html.sh              (N=10000)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${EMTAPE_BIN:-$here/../target/release/emtape}
n=${N:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$here/.." && cargo build --release --quiet)
python3 "$here/gen_points.py" "$here/../cassettes/reference/vm-restore.yaml" "$work/new.yaml" "$n"
# The same EM a release earlier: no BackupFile links, no VmName (what 12 -> 13 changed).
grep -v -e 'Type="BackupFileReference"' -e '<VmName>' "$work/new.yaml" > "$work/old.yaml"
start=$(date +%s.%N)
"$bin" diff "$work/old.yaml" "$work/new.yaml" --fail-on never --html "$work/report.html" > /dev/null
end=$(date +%s.%N)
python3 - "$work/report.html" "$n" "$start" "$end" "$work" <<'PY'
import json, os, subprocess, sys, time
page, n, start, end, work = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
size = os.path.getsize(page)
# Chromium's DevTools protocol over a pipe (fds 3 and 4), standard library only.
r_in, w_in = os.pipe()   # we write, Chromium reads on fd 3
r_out, w_out = os.pipe() # Chromium writes on fd 4, we read
def child():
    a, b = os.dup(r_in), os.dup(w_out)
    os.dup2(a, 3); os.dup2(b, 4)
proc = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--user-data-dir=" + work + "/profile", "--remote-debugging-pipe", "about:blank"],
    pass_fds=(3, 4), preexec_fn=child, stderr=subprocess.DEVNULL)
os.close(r_in); os.close(w_out)
out, buf, ids = os.fdopen(w_in, "wb", 0), b"", [0]
def send(method, params=None, session=None):
    ids[0] += 1
    msg = {"id": ids[0], "method": method, "params": params or {}}
    if session: msg["sessionId"] = session
    out.write(json.dumps(msg).encode() + b"\0")
    return ids[0]
def recv(pred):
    global buf
    while True:
        while b"\0" in buf:
            raw, buf = buf.split(b"\0", 1)
            m = json.loads(raw)
            if pred(m): return m
        buf += os.read(r_out, 1 << 20)
def call(method, params=None, session=None):
    i = send(method, params, session)
    return recv(lambda m: m.get("id") == i)
target = call("Target.createTarget", {"url": "about:blank"})["result"]["targetId"]
session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["result"]["sessionId"]
call("Page.enable", session=session)
send("Page.navigate", {"url": "file://" + page}, session)
recv(lambda m: m.get("method") == "Page.loadEventFired")
js = "JSON.stringify(performance.getEntriesByType('navigation')[0])"
value = call("Runtime.evaluate", {"expression": js, "returnByValue": True}, session)
timing = json.loads(value["result"]["result"]["value"])
proc.kill()
print("RESULT bench=html-diff refs=%s diff_seconds=%.2f report_bytes=%d report_mb=%.2f dom_content_loaded_ms=%.0f load_ms=%.0f"
      % (n, end - start, size, size / 1e6, timing["domContentLoadedEventEnd"], timing["loadEventEnd"]))
PY
