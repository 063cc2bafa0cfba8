#!/usr/bin/env python3
"""A small Enterprise Manager REST client, standard library only: restores the newest restore
point of a VM the way the documentation's "Performing Entire VM Restore" scenario does, following
links from the logon onwards. It is the client of the README's "Which releases does my client
support?" section:

    emtape matrix --client 'python3 examples/restore_client.py --url {url}'

    python3 examples/restore_client.py --url https://em:9398 --ca em.pem --user 'CORP\\restore'
        (the password from EM_PASSWORD)

Options that make it a worse client, to see what the matrix says of one:
    --read-vm-name   read the restore point's VmName element (EM 13 has it; older releases do not)
    --no-poll        never poll the restore Task (start it and go)
    --first          restore the first point listed, whatever its VM (a valid choice: the
                     scenario's VM is its default, not the contract)
    --json           speak JSON, reading the keys as EM 12 and before spell them (Links, Href):
                     EM 13 spells them in camelCase, and this client, like the monitoring plugins
                     written before it, does not know
"""

import argparse
import base64
import json
import os
import ssl
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET

NS = "{http://www.veeam.com/ent/v1.0}"


class Em:
    def __init__(self, url, ca, json_mode=False):
        self.url = url.rstrip("/")
        self.context = ssl.create_default_context(cafile=ca) if ca else None
        self.token = None
        self.json = json_mode

    def call(self, method, href, headers=None):
        headers = dict(headers or {})
        headers.setdefault("Accept", "application/json" if self.json else "application/xml")
        if self.token:
            headers["X-RestSvcSessionId"] = self.token
        request = urllib.request.Request(href, method=method, headers=headers, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
            body = response.read()
            if not body.strip():
                return response, None
            return response, (Json(json.loads(body), f"{method} {href}") if self.json else ET.fromstring(body))


class Json:
    """A JSON answer read as EM 12 spells its keys; a key it lacks is the client's error."""

    def __init__(self, value, where):
        self.value, self.where = value, where

    def __getitem__(self, key):
        if key not in self.value:
            sys.exit(f"error: the answer of {self.where} has no key {key!r} (it has: {', '.join(self.value)})")
        v = self.value[key]
        return Json(v, self.where) if isinstance(v, dict) else v


def json_link(doc, rel, kind=None):
    """The Href of the first link with this Rel (and Type) in a JSON answer or list item."""
    doc["Links"]  # every EM resource has its links; a body without them is not what 12 sends

    def links(v):
        if isinstance(v, dict):
            yield from v.get("Links") or []
            for x in v.values():
                yield from links(x)
        elif isinstance(v, list):
            for x in v:
                yield from links(x)

    for l in links(doc.value):
        if l.get("Rel") == rel and (kind is None or l.get("Type") == kind):
            return l["Href"]
    sys.exit(f"error: no {rel} link{' of type ' + kind if kind else ''} in the answer of {doc.where}")


def json_main(a, em, credentials):
    _, root = em.call("GET", em.url + "/api/")
    response, logon = em.call("POST", json_link(root, "Create", "LogonSession"), {"Authorization": "Basic " + credentials})
    em.token = response.headers["X-RestSvcSessionId"]
    try:
        _, points = em.call("GET", json_link(logon, "Down", "VmRestorePointReferenceList"))
        mine = [r for r in points["Refs"] if Json(r, points.where)["Name"].startswith(a.vm + "@")]
        if not mine:
            sys.exit(f"error: no restore point of {a.vm}")
        newest = max(mine, key=lambda r: r["Name"])
        _, point = em.call("GET", json_link(Json(newest, points.where), "Alternate", "VmRestorePoint"))
        _, task = em.call("POST", json_link(point, "Restore"), {"Content-Type": "application/json"})
        if not a.no_poll:
            while task["State"] == "Running":
                time.sleep(0.25)
                _, task = em.call("GET", task["Href"])
            if not task["Result"]["Success"]:
                sys.exit("error: the restore failed")
            _, session = em.call("GET", json_link(task, "Related", "RestoreSession"))
            print(f"restore session {session['Name']}: {session['Result']}")
    finally:
        em.call("DELETE", json_link(logon, "Delete"))


def link(element, rel, kind=None):
    for l in element.iter(NS + "Link"):
        if l.get("Rel") == rel and (kind is None or l.get("Type") == kind):
            return l.get("Href")
    sys.exit(f"error: no {rel} link{' of type ' + kind if kind else ''} in <{element.tag.replace(NS, '')}>")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("EMTAPE_URL"), help="the EM, like https://em:9398")
    p.add_argument("--ca", default=os.environ.get("EMTAPE_CA") or None, help="CA certificate (PEM) to trust")
    p.add_argument("--user", default="restore")
    p.add_argument("--vm", default="ubuntu88")
    p.add_argument("--read-vm-name", action="store_true")
    p.add_argument("--no-poll", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--first", action="store_true")
    a = p.parse_args()
    if not a.url:
        sys.exit("error: give --url (or set EMTAPE_URL)")
    em = Em(a.url, a.ca, a.json)

    credentials = base64.b64encode(f"{a.user}:{os.environ.get('EM_PASSWORD', 'x')}".encode()).decode()
    if a.json:
        return json_main(a, em, credentials)
    _, root = em.call("GET", em.url + "/api/")
    response, logon = em.call("POST", link(root, "Create", "LogonSession"), {"Authorization": "Basic " + credentials})
    em.token = response.headers["X-RestSvcSessionId"]
    try:
        _, points = em.call("GET", link(logon, "Down", "VmRestorePointReferenceList"))
        listed = list(points.iter(NS + "Ref"))
        mine = [r for r in listed if r.get("Name", "").startswith(a.vm + "@")]
        if not mine and not (a.first and listed):
            sys.exit(f"error: no restore point of {a.vm}")
        newest = listed[0] if a.first else max(mine, key=lambda r: r.get("Name"))
        _, point = em.call("GET", link(newest, "Alternate", "VmRestorePoint"))
        if a.read_vm_name:
            vm_name = point.find(NS + "VmName")
            if vm_name is None:
                sys.exit(f"error: the restore point {point.get('Name')} has no VmName")
            print(f"restoring {vm_name.text}")
        _, task = em.call("POST", link(point, "Restore"), {"Content-Type": "application/xml"})
        if not a.no_poll:
            while task.find(NS + "State").text == "Running":
                time.sleep(0.25)
                _, task = em.call("GET", task.get("Href"))
            result = task.find(NS + "Result")
            if result is None or result.get("Success") != "true":
                sys.exit("error: the restore failed")
            _, session = em.call("GET", link(task, "Related", "RestoreSession"))
            print(f"restore session {session.get('Name')}: {session.find(NS + 'Result').text}")
    finally:
        em.call("DELETE", link(logon, "Delete"))


if __name__ == "__main__":
    main()
