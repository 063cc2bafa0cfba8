#!/usr/bin/env python3
"""An enterprise-size estate on the documented surface, consistent as the shipped one is (the
same shapes and writer: cassettes/estate.py), for the scale bench:

    gen_estate.py OUT_DIR [SCALE] [RELEASE]     (SCALE 1.0: 10,000 VMs, 2,000 jobs of 5 VMs,
                                                 50 runs a job: 100,000 job sessions and
                                                 500,000 task sessions; the last 10 runs of a
                                                 job kept as restore points: 20,000 restore
                                                 points, 100,000 VM restore points, 20,000
                                                 backup files; 12 backup servers, 40 repositories)

writes OUT_DIR/estate.yaml (XML) and OUT_DIR/estate-json.yaml (JSON), each with the root, logon
and logout of the release's restore cassette, every collection as references and entities
(`?format=Entity`), each job's, session's, backup's and point's own lists, and the summary
reports computed from the entities. RELEASE (default 13) picks the shapes and spelling."""

import os
import re
import sys
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cassettes"))

import estate  # noqa: E402
from estate import NOW, Estate, Res, Writer, point_name, stamp, uid_of, utc  # noqa: E402

RUNS = 50  # job runs (sessions) per job
KEPT = 10  # the last runs kept as restore points
PER_JOB = 5  # VMs per job


class LargeEstate(Estate):
    def __init__(self, release, scale):
        self.scale = scale
        super().__init__(release)
        self.nas = False

    def build(self):
        vms_total = max(PER_JOB, int(10_000 * self.scale))
        jobs_total = vms_total // PER_JOB
        version = {"9.5": "9.5.4.2615", "10": "10.0.0.4461", "11": "11.0.0.837", "12": "12.0.0.1420",
                   "13": "13.0.0.1420"}[self.release]
        servers = []
        for i in range(12):
            sid = uid_of("large", "server", str(i))
            name = f"vbr{i + 1:02d}.corp.local"
            fields = [("Description", f"Site {i + 1} backup server"), ("Port", 9392), ("Version", version)]
            if self.modern:
                fields += [("WcfPort", 9405), ("VbrCertificateThumbprint", "0000000000000000000000000000000000000000")]
            s = Res("BackupServer", f"/backupServers/{sid}", name, fields)
            s.links = [("Alternate", "BackupServerReference", s.href, name), ("Edit", "BackupServer", s.href, None),
                       ("Delete", None, s.href, None)]
            s.ref_links = [("Alternate", "BackupServer", s.href + "?format=Entity", name)]
            servers.append(self.add(s))
        self.servers = servers
        self.collection("/backupServers", "BackupServer", servers)
        repos = []
        for i in range(40):
            server = servers[i % len(servers)]
            name = f"Repository {i + 1:02d}"
            r = Res("Repository", f"/repositories/{uid_of('large', 'repo', name)}", name,
                    [("Capacity", 107374182400000), ("FreeSpace", 32212254720000 + i * 1073741824), ("Kind", "WindowsLocal")])
            r.links = [server.ref(), ("Alternate", "RepositoryReference", r.href, name),
                       ("Down", "BackupReferenceList", r.href + "/backups", None),
                       ("Down", "ReplicaReferenceList", r.href + "/replicas", None)]
            r.server = server
            repos.append(self.add(r))
        self.repos = repos
        self.collection("/repositories", "Repository", repos)
        self.vms = {}
        self.replica_points, self.replica_sessions, self.replica_tasks, self.nas_jobs = [], [], [], []
        jobs, backups, sessions, tasks = [], [], [], []
        points = {"vrp": [], "rp": [], "bf": []}
        start_day = NOW - timedelta(days=RUNS)
        for n in range(jobs_total):
            server = servers[n % len(servers)]
            repo = repos[n % len(repos)]
            name = f"Backup Job {n + 1:04d}"
            jvms = [f"vm{n * PER_JOB + k + 1:05d}" for k in range(PER_JOB)]
            for k, vm in enumerate(jvms):
                self.vms[vm] = (server, f"vm-{10000 + n * PER_JOB + k}", 42949672960 + k * 1073741824)
            j = Res("Job", f"/jobs/{uid_of('large', 'job', name)}", name)
            j.fields = [("JobType", "Backup"), ("Platform", "VMware"), ("Description", f"{name}: {', '.join(jvms)}"),
                        ("ScheduleConfigured", True), ("ScheduleEnabled", True),
                        ("NextRun", utc(NOW + timedelta(hours=8, minutes=n % 60)))]
            j.links = [server.ref(), ("Alternate", "JobReference", j.href, name), ("Edit", "JobReference", j.href, None),
                       ("Clone", None, j.href + "?action=clone", None),
                       ("ToggleScheduleEnabled", None, j.href + "?action=toggleScheduleEnabled", None),
                       ("Down", "ObjectInJobList", j.href + "/includes", None),
                       ("Down", "BackupJobSessionReferenceList", j.href + "/backupSessions", None),
                       ("Create", "ObjectInJob", j.href + "/includes", None),
                       ("Start", None, j.href + "?action=start", None), ("Stop", None, j.href + "?action=stop", None),
                       ("Retry", None, j.href + "?action=retry", None)]
            j.jtype, j.scheduled, j.server, j.repo, j.vms = "Backup", True, server, repo, jvms
            jobs.append(self.add(j))
            hr = uid_of("large", "root", str(n % len(servers)))
            includes = []
            for vm in jvms:
                oid = uid_of("large", "include", name, vm)
                o = Res("ObjectInJob", f"{j.path}/includes/{oid}", vm, uid=False, named=False, entity_href=False)
                o.fields = [("ObjectInJobId", oid), ("HierarchyObjRef", f"urn:VMware:Vm:{hr}.{self.vms[vm][1]}"),
                            ("Name", vm), ("DisplayName", vm)]
                o.links = [("Delete", "ObjectInJob", o.href, vm), ("Up", "Job", j.href + "?format=Entity", name)]
                includes.append(self.add(o))
            self.collection(f"{j.path}/includes", "ObjectInJob", includes, entities="list", element="ObjectsInJob")
            b = Res("Backup", f"/backups/{uid_of('large', 'backup', name)}", name,
                    [("Platform", "VMware"), ("BackupType", "Standard")])
            b.links = [repo.ref(), server.ref(), ("Alternate", "BackupReference", b.href, name),
                       ("Down", "RestorePointReferenceList", b.href + "/restorePoints", None),
                       ("Down", "BackupFileReferenceList", b.href + "/backupFiles", None)]
            b.ref_links = [server.ref(), repo.ref(), ("Alternate", "Backup", b.href + "?format=Entity", name),
                           ("Down", "RestorePointReferenceList", b.href + "/restorePoints", None),
                           ("Down", "BackupFileReferenceList", b.href + "/backupFiles", None)]
            b.repo = repo
            backups.append(self.add(b))
            own, own_rp, own_bf = [], [], []
            for run in range(RUNS):
                start = start_day + timedelta(days=run, hours=18 + n % 6, minutes=n % 60, seconds=n % 50)
                failed = (n * 7 + run) % 23 == 0
                warning = not failed and (n + run) % 17 == 0
                result = "Failed" if failed else "Warning" if warning else "Success"
                reason = ("Cannot create a snapshot: the datastore is out of space" if failed else
                          "Changed block tracking was reset; the whole disk was read" if warning else "")
                end = start + timedelta(minutes=12 + run % 9, seconds=17)
                sid = uid_of("large", "session", name, str(run))
                sname = f"{name}@{stamp(start)}"
                s = Res("BackupJobSession", f"/backupSessions/{sid}", sname)
                s.links = [server.ref(), ("Up", "JobReference", j.href, name),
                           ("Alternate", "BackupJobSessionReference", s.href, sname),
                           ("Down", "BackupTaskSessionReferenceList", f"{s.href}/taskSessions", None),
                           ("Stop", None, s.href + "?action=stop", None)]
                fields = [("JobUid", f"urn:veeam:Job:{j.id}"), ("JobName", name), ("JobType", "Backup"),
                          ("CreationTimeUTC", utc(start, 233)), ("EndTimeUTC", utc(end, 480)), ("State", "Stopped"),
                          ("Result", result), ("Progress", 100), ("IsRetry", False)]
                if self.modern:
                    fields.append(("FailureMessage", reason or None))
                s.fields = fields
                s.job, s.start, s.end, s.result = j, start, end, result
                kept = run >= RUNS - KEPT and not failed
                rp = bf = None
                if kept:
                    rp_t = start.replace(second=0)
                    full = run == RUNS - KEPT
                    fname = f"{name}D{rp_t.strftime('%Y-%m-%dT%H%M%S')}.{'vbk' if full else 'vib'}"
                    bf = Res("BackupFile", f"/backupFiles/{uid_of('large', 'file', name, str(run))}", fname)
                    size = (214748364800 if full else 10737418240) + n
                    bf.fields = [("FilePath", f"E:\\Backups\\{name}\\{fname}"), ("BackupSize", size),
                                 ("DataSize", size * 2), ("DeduplicationRatio", 1.4 if full else 1.1),
                                 ("CompressRatio", 1.9 if full else 1.6), ("CreationTimeUtc", utc(rp_t)),
                                 ("FileType", "vbk" if full else "vib")]
                    bf.full, bf.backup = full, b
                    bf.links = [("Up", "BackupReference", b.href, name), server.ref(),
                                ("Alternate", "BackupFileReference", bf.href, fname),
                                ("Related", "BackupFileReferenceList", bf.href + "/restorePoints", None),
                                ("Down", "VmRestorePointReferenceList", bf.href + "/vmRestorePoints", None)]
                    rp = Res("RestorePoint", f"/restorePoints/{uid_of('large', 'rp', name, str(run))}",
                             point_name(rp_t), [("BackupDateUTC", utc(rp_t, 777))])
                    rp.backup = b
                    rp.links = [("Up", "BackupReference", b.href, name), server.ref(),
                                ("Alternate", "RestorePointReference", rp.href, rp.name),
                                ("Down", "VmRestorePointReferenceList", rp.href + "/vmRestorePoints", None),
                                ("Down", "VAppRestorePointReferenceList", rp.href + "/vAppRestorePoints", None),
                                ("Related", "RestorePointReferenceList", rp.href + "/backupFiles", None)]
                    rp.ref_links = [server.ref(), ("Up", "BackupReference", b.href, name),
                                    ("Alternate", "RestorePoint", rp.href + "?format=Entity", rp.name),
                                    ("Down", "VmRestorePointReferenceList", rp.href + "/vmRestorePoints", None),
                                    ("Related", "RestorePointReferenceList", rp.href + "/backupFiles", None)]
                    s.links.append(("Related", "RestorePointReference", rp.href, rp.name))
                    own_rp.append(self.add(rp))
                    own_bf.append(self.add(bf))
                self.add(s)
                own.append(s)
                sessions.append(s)
                own_tasks, own_vrp = [], []
                for k, vm in enumerate(jvms):
                    tstart = start + timedelta(seconds=52 + 30 * k)
                    tid = uid_of("large", "task", name, vm, str(run))
                    tname = f"{vm}@{stamp(tstart)}"
                    t = Res("BackupTaskSession", f"/backupTaskSessions/{tid}", tname, attrs=[("VmDisplayName", vm)])
                    t.links = [server.ref(), ("Up", "BackupJobSessionReference", s.href, sname),
                               ("Alternate", "BackupTaskSessionReference", t.href, tname)]
                    if rp is not None:
                        vt = tstart + timedelta(minutes=3, seconds=15)
                        v = Res("VmRestorePoint", f"/vmRestorePoints/{uid_of('large', 'vrp', name, vm, str(run))}",
                                f"{vm}@{stamp(vt)}", attrs=[("VmDisplayName", vm)])
                        vfields = [("CreationTimeUTC", utc(vt, 267))]
                        if self.v13:
                            vfields.append(("VmName", vm))
                        vfields += [("Algorithm", "Full" if bf.full else "Incremental"),
                                    ("PointType", "Full" if bf.full else "Increment"),
                                    ("HierarchyObjRef", f"urn:VMware:Vm:{hr}.{self.vms[vm][1]}")]
                        v.fields = vfields
                        up_file = [bf.ref()] if self.v13 else []
                        v.links = ([("Restore", None, v.href + "?action=restore", None), server.ref(), rp.ref()] + up_file
                                   + [("Alternate", "VmRestorePointReference", v.href, v.name),
                                      ("Down", "VmRestorePointMountList", v.href + "/mounts", None),
                                      ("Create", "VmRestorePointMount", v.href + "/mounts", None)])
                        v.ref_links = ([server.ref(), rp.ref()] + up_file
                                       + [("Alternate", "VmRestorePoint", v.href + "?format=Entity", v.name)])
                        v.vm = vm
                        points["vrp"].append(self.add(v))
                        own_vrp.append(v)
                        t.links.append(("Related", "VmRestorePoint", v.href + "?format=Entity", v.name))
                    t.fields = [("JobSessionUid", f"urn:veeam:BackupJobSession:{sid}"), ("CreationTimeUTC", utc(tstart, 117)),
                                ("EndTimeUTC", utc(end - timedelta(seconds=9), 350)), ("State", "Completed"),
                                ("Result", result), ("Reason", reason), ("TotalSize", self.vms[vm][2])]
                    t.vm, t.result, t.start = vm, result, tstart
                    own_tasks.append(self.add(t))
                tasks += own_tasks
                self.collection(f"{s.path}/taskSessions", "BackupTaskSession", own_tasks, entities=False)
                if rp is not None:
                    self.collection(f"{rp.path}/vmRestorePoints", "VmRestorePoint", own_vrp, entities=False)
                    self.collection(f"{rp.path}/vAppRestorePoints", "VAppRestorePoint", [], entities=False)
                    for v in own_vrp:
                        self.collection(f"{v.path}/mounts", "VmRestorePointMount", [], entities=False)
                    self.collection(f"{rp.path}/backupFiles", "BackupFile", [bf], entities=False)
                    self.collection(f"{bf.path}/vmRestorePoints", "VmRestorePoint", own_vrp, entities=False)
                    self.collection(f"{bf.path}/restorePoints", "RestorePoint", [rp], entities=False)
            self.collection(f"{j.path}/backupSessions", "BackupJobSession", own, entities=False)
            self.collection(f"{b.path}/restorePoints", "RestorePoint", own_rp, entities=False)
            self.collection(f"{b.path}/backupFiles", "BackupFile", own_bf, entities=False)
            points["rp"] += own_rp
            points["bf"] += own_bf
        self.jobs, self.backups, self.points = jobs, backups, points
        newest = lambda xs: sorted(xs, key=lambda s: s.start, reverse=True)
        self.backup_sessions = newest(sessions)
        self.backup_tasks = newest(tasks)
        self.collection("/jobs", "Job", jobs)
        self.collection("/backupSessions", "BackupJobSession", self.backup_sessions)
        self.collection("/backupTaskSessions", "BackupTaskSession", self.backup_tasks)
        self.collection("/backups", "Backup", backups)
        self.collection("/restorePoints", "RestorePoint", points["rp"])
        self.collection("/vmRestorePoints", "VmRestorePoint", points["vrp"])
        self.collection("/backupFiles", "BackupFile", points["bf"])
        for r in repos:
            self.collection(f"{r.path}/backups", "Backup", [b for b in backups if b.repo is r], entities=False)
            self.collection(f"{r.path}/replicas", "Replica", [], entities=False)


class LargeWriter(Writer):
    def services(self):
        pass  # no agents, NAS or security in the large estate: its scale is jobs, sessions and points


def session_exchanges(restore_cassette):
    """The root, logon and logout exchanges of a restore cassette (YAML text, renumbered later)."""
    text = open(restore_cassette).read()
    head, body = text.split("exchanges:\n", 1)
    chunks = re.split(r"(?m)^(?=- seq: )", body)
    keep = []
    for c in chunks:
        m = re.search(r"(?m)^    method: (\w+)\n    uri: (\S+)", c)
        if m and (m.group(2) == "/api/" or "sessionMngr" in m.group(2) or m.group(2).startswith("/api/logonSessions")):
            keep.append(c)
    return head, keep


def write(out_dir, scale, release):
    folder = {"13": "reference"}.get(release, f"em-{release}")
    large = LargeEstate(release, scale)
    # What the logon links to and the large estate has none of: recorded empty, as EM lists it.
    _, kept = session_exchanges(os.path.join(HERE, "..", "cassettes", folder, "vm-restore.yaml"))
    listed = {c[0] for c in large.collections}
    for link in re.findall(r"<Link [^>]*>", "".join(kept)):
        href = re.search(r'Href="\{\{origin\}\}/api(/[^"?]+)"', link)
        kind = re.search(r'Type="(\w+?)(?:Reference)?List"', link)
        if not (href and kind and 'Rel="Down"' in link):
            continue
        path, member = href.group(1), kind.group(1)
        if path not in listed and member != "LogonSession":
            listed.add(path)
            large.collection(path, member, [], entities=False)
    for json, suffix in [(False, ""), (True, "-json")]:
        head, kept = session_exchanges(os.path.join(HERE, "..", "cassettes", folder, f"vm-restore{suffix}.yaml"))
        head = re.sub(r"(?ms)^  description: \|\n(    .*\n)+", "  description: |\n    An enterprise-size estate "
                      f"(benches/gen_estate.py, scale {scale}).\n", head)
        recorded = {re.search(r"(?m)^    uri: (\S+)", c).group(1).lower() for c in kept}
        w = LargeWriter(large, json, recorded)
        w.out = list(kept)
        body = w.write()
        n = 0

        def renumber(_):
            nonlocal n
            n += 1
            return f"- seq: {n}\n"

        body = re.sub(r"(?m)^- seq: \d+\n", renumber, body)
        with open(os.path.join(out_dir, f"estate{suffix}.yaml"), "w") as f:
            f.write(head + "exchanges:\n" + body)
    return large


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    release = sys.argv[3] if len(sys.argv) > 3 else "13"
    large = write(out, scale, release)
    print(f"{out}: {len(large.vms)} VMs, {len(large.jobs)} jobs, {len(large.backup_sessions)} job sessions, "
          f"{len(large.backup_tasks)} task sessions, {len(large.points['rp'])} restore points, "
          f"{len(large.points['vrp'])} VM restore points, {len(large.points['bf'])} backup files")
