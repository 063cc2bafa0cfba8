# The README's "From Python" test: `pip install emtape pytest requests`, then `pytest`.
import time
import xml.etree.ElementTree as ET

import pytest
import requests

NS = "{http://www.veeam.com/ent/v1.0}"


def link(doc, rel, kind=None):
    return next(l.get("Href") for l in doc.iter(NS + "Link") if l.get("Rel") == rel and kind in (None, l.get("Type")))


@pytest.mark.emtape(releases="all", scenario="vm-restore")
def test_restore_the_newest_point(em):
    s, xml = requests.Session(), lambda r: ET.fromstring(r.content)
    logon = s.post(link(xml(s.get(em.url + "/api/")), "Create", "LogonSession"), auth=("restore", "secret"))
    s.headers["X-RestSvcSessionId"] = logon.headers["X-RestSvcSessionId"]
    points = xml(s.get(link(xml(logon), "Down", "VmRestorePointReferenceList"))).iter(NS + "Ref")
    newest = max((r for r in points if r.get("Name").startswith("ubuntu88@")), key=lambda r: r.get("Name"))
    task = xml(s.post(link(xml(s.get(link(newest, "Alternate", "VmRestorePoint"))), "Restore")))
    while task.find(NS + "State").text == "Running":
        time.sleep(0.25)
        task = xml(s.get(task.get("Href")))
    s.get(link(task, "Related", "RestoreSession"))
    s.delete(link(xml(logon), "Delete"))
