#!/usr/bin/env python3
"""A small Veeam Backup & Replication REST client, standard library only, written from the API
reference (OpenAPI 1.3-rev1) and its examples: it restores the newest restore point of a VM
(entire VM restore to the original location) and, with --instant-recovery, mounts a VM's newest
point, waits for the mount and migrates the VM to production. Every request sends x-api-version.

    emtape serve --release vbr-1.3-rev1 --listen 127.0.0.1:9419 &
    python3 examples/vbr_client.py --url http://127.0.0.1:9419 --instant-recovery

    python3 examples/vbr_client.py --url https://vbr:9419 --ca vbr.pem --user 'TECH\\restore'
        (the password from VBR_PASSWORD)

Exit 0 when every operation's session stopped with Success; 1 otherwise, saying which.
"""

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class Vbr:
    def __init__(self, url, ca, revision):
        self.url = url.rstrip("/")
        self.context = ssl.create_default_context(cafile=ca) if ca else None
        self.revision = revision
        self.token = None

    def call(self, method, path, body=None, form=None):
        headers = {"x-api-version": self.revision, "Accept": "application/json"}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as r:
                text = r.read().decode()
                return r.status, json.loads(text) if text else {}
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            try:
                error = json.loads(text)
            except ValueError:
                error = {"message": text}
            raise SystemExit(f"{method} {path}: {e.code} {error.get('errorCode', '')}: {error.get('message', '')}")

    def log_on(self, user, password):
        _, token = self.call("POST", "/api/oauth2/token",
                             form={"grant_type": "password", "username": user, "password": password})
        self.token = token["access_token"]

    def wait(self, session, what, interval):
        while True:
            _, s = self.call("GET", f"/api/v1/sessions/{session['id']}")
            if s["state"] == "Stopped":
                result = s.get("result") or {}
                print(f"{what}: {result.get('result')}")
                return result.get("result") in ("Success", "Warning")
            time.sleep(interval)

    def newest_point(self, vm):
        query = urllib.parse.urlencode({"nameFilter": vm, "orderColumn": "CreationTime", "orderAsc": "false", "limit": 1})
        _, points = self.call("GET", f"/api/v1/restorePoints?{query}")
        if not points["data"]:
            raise SystemExit(f"no restore point of {vm}")
        point = points["data"][0]
        print(f"{vm}: newest restore point {point['id']} of {point['creationTime']}")
        return point


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--ca")
    p.add_argument("--user", default="TECH\\restore.operator")
    p.add_argument("--api-version", default="1.3-rev1")
    p.add_argument("--vm", default="winsrv88")
    p.add_argument("--instant-recovery", action="store_true", help="also mount, then migrate, --ir-vm")
    p.add_argument("--ir-vm", default="linbase01")
    p.add_argument("--host", default="esx01.tech.local", help="where the recovered VM migrates")
    p.add_argument("--host-id", default="host-1008", help="its vSphere id")
    p.add_argument("--vcenter", default="vcenter01.tech.local", help="the vCenter it is in")
    p.add_argument("--interval", type=float, default=0.2)
    args = p.parse_args()
    vbr = Vbr(args.url, args.ca, args.api_version)
    vbr.log_on(args.user, os.environ.get("VBR_PASSWORD", "emtape"))
    ok = True
    try:
        point = vbr.newest_point(args.vm)
        _, session = vbr.call("POST", "/api/v1/restore/vmRestore/vSphere", {
            "type": "OriginalLocation", "restorePointId": point["id"], "powerUp": True, "reason": "vbr_client.py",
        })
        ok &= vbr.wait(session, f"restore of {args.vm}", args.interval)
        if args.instant_recovery:
            point = vbr.newest_point(args.ir_vm)
            base = "/api/v1/restore/instantRecovery/vSphere/vm"
            _, mounting = vbr.call("POST", base, {
                "type": "OriginalLocation", "restorePointId": point["id"], "nicsEnabled": True, "powerUp": True,
                "secureRestore": {"antivirusScanEnabled": False}, "reason": "vbr_client.py",
            })
            ok &= vbr.wait(mounting, f"instant recovery of {args.ir_vm}", args.interval)
            _, mount = vbr.call("GET", f"{base}/{mounting['resourceId']}")
            print(f"{mount['vmName']}: {mount['state']}")
            ok &= mount["state"] == "Mounted"
            _, migrating = vbr.call("POST", f"{base}/{mount['id']}/migrate", {
                "destinationHost": {"platform": "VSphere", "hostName": args.vcenter, "name": args.host, "type": "Host",
                                    "objectId": args.host_id},
            })
            ok &= vbr.wait(migrating, f"migration of {args.ir_vm} to {args.host}", args.interval)
    finally:
        vbr.call("POST", "/api/oauth2/logout")
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
