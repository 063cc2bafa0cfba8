#!/usr/bin/env python3
"""Checks an `emtape diff --format json` report against the generator's ground truth.

Every drifted Ref of the pair must be reported, keyed by its UID: its removed Alternate link
(link-removed), its added Description element (element-added), and, for the one Ref whose
default namespace was bumped, the namespace change (namespace-changed). Every drift reported
must be one of those: nothing invented, and nothing for the Ref names whose dates changed.

  diff_accuracy.py REPORT.json EXPECTED.json   -> one RESULT line; exit 1 on any miss or invention
"""
import json
import sys

report = json.load(open(sys.argv[1]))
expected = json.load(open(sys.argv[2]))
drifts = [d for e in report["exchanges"] for d in e["drifts"]]
want = set()
for c in expected["changes"]:
    want.add(("link-removed", c["uid"]))
    want.add(("element-added", c["uid"]))
    if c["namespace_bumped"]:
        want.add(("namespace-changed", c["uid"]))
found, invented = set(), []
for d in drifts:
    key = (d["kind"], d.get("item"))
    ok = key in want and (
        (d["kind"] == "link-removed" and d.get("old", "").startswith("Alternate VmRestorePoint"))
        or (d["kind"] == "element-added" and d["path"].endswith("/Description"))
        or (d["kind"] == "namespace-changed" and d.get("new") == expected["namespace_bump"]["to"])
    )
    if ok:
        found.add(key)
    else:
        invented.append(d)
missed = want - found
print("RESULT bench=diff_accuracy n=%d expected=%d found=%d missed=%d invented=%d"
      % (expected["n"], len(want), len(found), len(missed), len(invented)))
for m in sorted(missed)[:5]:
    print("  missed", m, file=sys.stderr)
for d in invented[:5]:
    print("  invented", d, file=sys.stderr)
sys.exit(1 if missed or invented else 0)
