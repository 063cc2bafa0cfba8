#!/usr/bin/env python3
"""Writes the estate cassettes: the documented read surface of one small, consistent Enterprise
Manager (3 backup servers, 4 repositories, 5 jobs, two weeks of backup, replica and task sessions,
backups, restore points and files, replicas, agents, NAS, hierarchy roots, security, the summary
reports), for every release and representation. Called by cassettes/releases.py; run that.

The estate is built around the restore flow's cassettes: their 4 VM restore points, restore
points, backup files, backup servers and RestoreSession are the estate's, and what they record
(the root, the logon, /api/vmRestorePoints, one point, one RestoreSession, one BackupServer) is
not recorded again here. Every collection is recorded as references and as entities
(`?format=Entity`); the mock answers each resource alone, and the query service, from them.

Evidence ([DOC], [CAP], [CLIENT], [INF] as in docs/em-read-surface.md, whose section numbers
follow the names below):
- Shapes of every entity, their links and field order: §2 [DOC13 examples]; replica, replica
  point, managed server, protection group, file server and service documents are not in the
  documentation's examples and follow their siblings' shapes [INF].
- Report frames: §1 [DOC], their numbers computed from the estate below: ScheduledJobs =
  backup + replica jobs with a schedule on; job runs over the last 24 hours of the estate's
  clock; VM states by each VM's last task; processed VMs per day over 7 days [INF: the window].
- JSON: PascalCase through 12; 12 and 13 keep `"FailureMessage": null` [CAP v12]; report frames
  carry `Href`/`Links`/`Type` null from 11 [CAP 13; INF for 11 and 12]; EM 13 writes every key in
  camelCase (the .NET naming policy: `UID` -> `uid`, `CreationTimeUTC` -> `creationTimeUTC`,
  `NASJobs` -> `nasJobs`) [CAP 13 report frames; INF for entities and links], values unchanged.
- Releases: NAS from 10 (v1_5) [DOC]; the Oracle Restore Operator role from 11 [INF]; WcfPort and
  VbrCertificateThumbprint from 12 [DOC]; VmName and the BackupFile link of a VM restore point in
  13 only, as the restore cassettes show them [DOC].
"""

import uuid
from datetime import datetime, timedelta, timezone

NS = "http://www.veeam.com/ent/v1.0"
XSD = 'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
O = "{{origin}}/api"
# The estate's clock: the reference (13) was recorded then; every release keeps the same data.
NOW = datetime(2025, 12, 7, 12, 0, 0, tzinfo=timezone.utc)
SEED = uuid.UUID("7d0e6c2a-3b1f-4c55-9e0a-5a1f0c3e9b11")


def uid_of(*parts):
    return str(uuid.uuid5(SEED, "/".join(parts)))


def utc(t, ms=0):
    """2025-12-07T11:48:12.123Z as EM writes its UTC times."""
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms:03d}Z" if ms else "Z")


def stamp(t):
    """The time in a session's Name: 2025-12-07 11:48:12."""
    return t.strftime("%Y-%m-%d %H:%M:%S")


def point_name(t):
    """A RestorePoint's Name: 'Dec  7 2025 11:48AM' (a space pads a one-digit day or hour)."""
    hour = t.hour % 12 or 12
    return f"{t.strftime('%b')} {t.day:2d} {t.year} {hour:2d}:{t.minute:02d}{'AM' if t.hour < 12 else 'PM'}"


class Res:
    """A resource of the estate: where it lives, what it is, its fields and its links."""

    def __init__(self, kind, path, name, fields=(), links=(), attrs=(), element=None, uid=True, ref_links=None,
                 named=True, entity_href=True):
        self.kind = kind
        self.named = named  # a Name attribute (XML) / member (JSON) of its own
        self.entity_href = entity_href  # its Href ends in ?format=Entity
        self.path = path  # "/backupSessions/<id>"
        self.name = name
        self.fields = list(fields)  # (name, value); value: str, int, float, bool, None, or Nested
        self.links = list(links)  # (rel, type, href, name)
        self.attrs = list(attrs)  # extra XML attributes (JSON: values before Name)
        self.element = element or kind
        self.uid = f"urn:veeam:{kind}:{path.rsplit('/', 1)[1]}" if uid else None
        self.ref_links = ref_links

    @property
    def href(self):
        return O + self.path

    @property
    def id(self):
        return self.path.rsplit("/", 1)[1]

    def ref(self, rel="Up"):
        return (rel, f"{self.kind}Reference", self.href, self.name)

    def reference_links(self):
        if self.ref_links is not None:
            return self.ref_links
        ups = [l for l in self.links if l[0] == "Up"]
        return ups + [("Alternate", self.kind, self.href + "?format=Entity", self.name)]


class Nested:
    """A value with structure: child elements (XML) / an object or array (JSON)."""

    def __init__(self, items, element=None, attributes=False):
        self.items = items  # list of (name, value) pairs, or list of Nested
        self.element = element
        self.attributes = attributes  # XML: the pairs are attributes of an empty element


# ----------------------------------------------------------------------------------------------
# Writing XML and JSON


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def xml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return esc(v)


def xml_link(l):
    rel, kind, href, name = l
    out = f'<Link Href="{esc(href)}"'
    if name is not None:
        out += f' Name="{esc(name)}"'
    if kind is not None:
        out += f' Type="{esc(kind)}"'
    return out + f' Rel="{rel}" />'


def xml_fields(fields, indent):
    out = []
    for name, v in fields:
        if v is None:
            continue
        if isinstance(v, Nested):
            if v.attributes:
                attrs = "".join(f' {k}="{xml_value(x)}"' for k, x in v.items)
                out.append(f"{indent}<{name}{attrs} />")
            else:
                out.append(f"{indent}<{name}>")
                out += xml_fields(v.items, indent + "  ")
                out.append(f"{indent}</{name}>")
        elif v == "":
            out.append(f"{indent}<{name} />")
        else:
            out.append(f"{indent}<{name}>{xml_value(v)}</{name}>")
    return out


def xml_entity(r, top, indent=""):
    head = f'{indent}<{r.element} '
    if top:
        head += XSD + " "
    head += f'Href="{esc(r.href)}{"?format=Entity" if r.entity_href else ""}" Type="{r.kind}"'
    if r.named:
        head += f' Name="{esc(r.name)}"'
    if r.uid:
        head += f' UID="{r.uid}"'
    head += "".join(f' {k}="{xml_value(v)}"' for k, v in r.attrs)
    if top:
        head += f' xmlns="{NS}"'
    lines = [head + ">", f"{indent}  <Links>"]
    lines += [f"{indent}    {xml_link(l)}" for l in r.links]
    lines.append(f"{indent}  </Links>")
    lines += xml_fields(r.fields, indent + "  ")
    lines.append(f"{indent}</{r.element}>")
    return lines


def xml_ref(r, indent="  ", element="Ref"):
    head = f'{indent}<{element} Type="{r.kind}Reference" Href="{esc(r.href)}" Name="{esc(r.name)}"'
    if r.uid:
        head += f' UID="{r.uid}"'
    lines = [head + ">", f"{indent}  <Links>"]
    lines += [f"{indent}    {xml_link(l)}" for l in r.reference_links()]
    lines += [f"{indent}  </Links>", f"{indent}</{element}>"]
    return lines


def camel(key):
    """A key as .NET's camelCase naming policy writes it: the leading capitals lowered, but the
    last of a run that starts a word (UID -> uid, NASJobs -> nasJobs, VAppX -> vAppX)."""
    chars = list(key)
    for i, c in enumerate(chars):
        if i == 1 and not c.isupper():
            break
        nxt = chars[i + 1] if i + 1 < len(chars) else None
        if i > 0 and nxt is not None and not nxt.isupper():
            break
        chars[i] = c.lower()
    return "".join(chars)


class Json:
    """JSON as this release writes it."""

    def __init__(self, release):
        self.camel = release == "13"
        self.nulls = release in ("12", "13")

    def key(self, k):
        return '"' + (camel(k) if self.camel else k) + '"'

    def scalar(self, v):
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v) if isinstance(v, float) else str(v)
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def link(self, l):
        rel, kind, href, name = l
        parts = [f"{self.key('Rel')}: {self.scalar(rel)}", f"{self.key('Href')}: {self.scalar(href)}"]
        if name is not None:
            parts.append(f"{self.key('Name')}: {self.scalar(name)}")
        if kind is not None:
            parts.append(f"{self.key('Type')}: {self.scalar(kind)}")
        return "{" + ", ".join(parts) + "}"

    def links(self, links, indent):
        if not links:
            return "[]"
        inner = ",\n".join(f"{indent}  {self.link(l)}" for l in links)
        return "[\n" + inner + f"\n{indent}]"

    def value(self, v, indent):
        if isinstance(v, Nested):
            if v.items and isinstance(v.items[0], Nested):
                inner = ",\n".join(f"{indent}  " + self.value(x, indent + "  ") for x in v.items)
                return "[\n" + inner + f"\n{indent}]"
            return self.obj(v.items, indent)
        return self.scalar(v)

    def obj(self, pairs, indent):
        pairs = [(k, v) for k, v in pairs if v is not None or self.nulls]
        if not pairs:
            return "{}"
        inner = ",\n".join(f"{indent}  {self.key(k)}: {self.value(v, indent + '  ')}" for k, v in pairs)
        return "{\n" + inner + f"\n{indent}}}"

    def entity_pairs(self, r):
        pairs = [(k, v) for k, v in r.fields if v is not None or self.nulls]
        pairs += list(r.attrs)
        if r.named:
            pairs.append(("Name", r.name))
        if r.uid:
            pairs.append(("UID", r.uid))
        return pairs

    def entity(self, r, indent=""):
        pairs = self.entity_pairs(r)
        text = self.obj(pairs, indent)[:-1].rstrip()
        if pairs:
            text += ","
        return (
            text
            + f"\n{indent}  {self.key('Links')}: {self.links(r.links, indent + '  ')},"
            + f"\n{indent}  {self.key('Href')}: {self.scalar(r.href + ('?format=Entity' if r.entity_href else ''))},"
            + f"\n{indent}  {self.key('Type')}: {self.scalar(r.kind)}\n{indent}}}"
        )

    def ref(self, r, indent):
        parts = [f"{indent}  {self.key('Links')}: {self.links(r.reference_links(), indent + '  ')}"]
        if r.uid:
            parts.append(f"{indent}  {self.key('UID')}: {self.scalar(r.uid)}")
        parts.append(f"{indent}  {self.key('Name')}: {self.scalar(r.name)}")
        parts.append(f"{indent}  {self.key('Href')}: {self.scalar(r.href)}")
        parts.append(f"{indent}  {self.key('Type')}: {self.scalar(r.kind + 'Reference')}")
        return "{\n" + ",\n".join(parts) + f"\n{indent}}}"

    def array(self, key, items):
        if not items:
            return "{" + self.key(key) + ": []}"
        return "{\n  " + self.key(key) + ": [\n" + ",\n".join("    " + i for i in items) + "\n  ]\n}"


def plural(kind):
    if kind.endswith("y") and kind[-2] not in "aeiou":
        return kind[:-1] + "ies"
    return kind + "s"


# ----------------------------------------------------------------------------------------------
# The estate


class Estate:
    def __init__(self, release):
        self.release = release
        self.nas = release not in ("9.5",)
        self.modern = release in ("12", "13")
        self.v13 = release == "13"
        self.by_path = {}
        self.collections = []  # (path, member kind, [Res], entities?) in the order written
        self.build()

    def add(self, r):
        self.by_path[r.path] = r
        return r

    def collection(self, path, kind, members, entities=True, element=None):
        """A collection: references (and, with `entities`, `?format=Entity`), or with "list"
        the entities at the path itself (a job's includes, an account's roles and scopes)."""
        self.collections.append((path, kind, members, entities, element))

    def build(self):
        rel = self.release
        version = {
            "9.5": ("9.5.4.2615", "9.5.0.1922", "9.5.4.2753"),
            "10": ("10.0.0.4461", "9.5.4.2866", "10.0.1.4854"),
            "11": ("11.0.0.837", "10.0.1.4854", "11.0.1.1261"),
            "12": ("12.0.0.1420", "11.0.1.1261", "12.3.1.1139"),
            "13": ("13.0.0.1420", "12.3.1.1139", "13.0.1.1071"),
        }[rel]

        # Backup servers: the three the restore flow's points name.
        servers = []
        for sid, name, ver, port, desc in [
            ("a490c017-2c1c-40ee-8bcf-73bcce6ab36f", "enterprise01.tech.local", version[0], 9392, ""),
            ("00fd67d9-2b4c-4c56-8a95-0b3dbec7ae43", "172.17.53.1", version[1], 9392, "Oracle site backup server"),
            ("e42211aa-321d-4f91-9c13-2342cf9557eb", "172.17.53.47", version[2], 10392, "Branch office backup server"),
        ]:
            fields = [("Description", desc), ("Port", port), ("Version", ver)]
            if self.modern:
                fields += [("WcfPort", 9405), ("VbrCertificateThumbprint", "0000000000000000000000000000000000000000")]
            path = f"/backupServers/{sid}"
            s = Res("BackupServer", path, name, fields)
            s.links = [
                ("Alternate", "BackupServerReference", s.href, name),
                ("Edit", "BackupServer", s.href, None),
                ("Delete", None, s.href, None),
            ]
            s.ref_links = [("Alternate", "BackupServer", s.href + "?format=Entity", name)]
            servers.append(self.add(s))
        self.servers = servers
        bs1, bs2, bs3 = servers
        self.collection("/backupServers", "BackupServer", servers)

        # Hierarchy roots and the managed servers they are.
        roots = []
        for server, rid, name, host_type, unique in [
            (bs1, "d68c782f-ec0a-4bf3-b3c1-04c552b64fdf", "vcenter01.tech.local", "VC", "09D89361-9178-4EAF-8037-E4E82B1932F0"),
            (bs2, uid_of("hr", "vcenter02"), "vcenter02.tech.local", "VC", "5F1C2B7A-4E0D-4C1B-9A8E-2D3F4A5B6C7D"),
            (bs3, uid_of("hr", "esx47"), "esx47.tech.local", "ESXi", "4C4C4544-0047-3110-8052-B4C04F4E3332"),
        ]:
            ms = Res("ManagedServer", f"/managedServers/{rid}", name, [
                ("Description", f"{'vCenter Server' if host_type == 'VC' else 'ESXi host'} {name}"),
                ("ManagedServerType", host_type),
            ])
            ms.links = [server.ref(), ("Alternate", "ManagedServerReference", ms.href, name)]
            self.add(ms)
            hr = Res("HierarchyRoot", f"/hierarchyRoots/{rid}", name, [
                ("HierarchyRootId", rid), ("UniqueId", unique), ("HostType", host_type)])
            hr.links = [server.ref(), ("Alternate", "HierarchyRootReference", hr.href, name),
                        ("Related", "ManagedServer", ms.href + "?format=Entity", name)]
            hr.server = server
            roots.append(self.add(hr))
        self.collection("/hierarchyRoots", "HierarchyRoot", roots)
        self.collection("/managedServers", "ManagedServer", [self.by_path[f"/managedServers/{r.id}"] for r in roots])
        hr_of = {bs1.id: roots[0], bs2.id: roots[1], bs3.id: roots[2]}

        # Repositories.
        repos = []
        for server, name, kind, cap, free in [
            (bs1, "Default Backup Repository", "WindowsLocal", 536870912000, 412316860416),
            (bs1, "Backup Volume 01", "WindowsLocal", 1079639011328, 881812750336),
            (bs2, "Oracle Repository", "LinuxLocal", 2199023255552, 1649267441664),
            (bs3, "DC Repository", "WindowsLocal", 429496729600, 339302416384),
        ]:
            r = Res("Repository", f"/repositories/{uid_of('repo', name)}", name,
                    [("Capacity", cap), ("FreeSpace", free), ("Kind", kind)])
            r.links = [server.ref(), ("Alternate", "RepositoryReference", r.href, name),
                       ("Down", "BackupReferenceList", r.href + "/backups", None),
                       ("Down", "ReplicaReferenceList", r.href + "/replicas", None)]
            r.server = server
            repos.append(self.add(r))
        self.repos = repos
        self.collection("/repositories", "Repository", repos)

        # VMs and their jobs. Each VM: name, server, moref, provisioned size.
        vms = {
            "ubuntu88": (bs1, "vm-85541", 64424509440),
            "oracle03": (bs2, "vm-1204", 214748364800),
            "dc01": (bs3, "vm-47", 85899345920),
            "fs01": (bs1, "vm-3120", 322122547200),
        }
        self.vms = vms

        def vm_ref(vm):
            server, moref, _ = vms[vm]
            return f"urn:VMware:Vm:{hr_of[server.id].id}.{moref}"

        def day(d, hh, mm, ss=0):
            return datetime(2025, d[0], d[1], hh, mm, ss, tzinfo=timezone.utc)

        window = [(11, 24 + i) if i < 7 else (12, i - 6) for i in range(14)]  # Nov 24 .. Dec 7
        # (name, server, type, platform, vms, repo, schedule on, runs: [(start, minutes, result, reason)])
        jobs_spec = [
            ("Backup Job 3", bs1, "Backup", "VMware", ["ubuntu88"], repos[1], True,
             [(datetime(2025, 10, 19, 20, 0, 18, tzinfo=timezone.utc), 4, "Success", ""),
              (datetime(2025, 10, 20, 20, 0, 20, tzinfo=timezone.utc), 4, "Success", "")]
             + [(day(d, 20, 0, 15), 2, "Failed", "Cannot create a snapshot of ubuntu88: the datastore datastore1 is out of space")
                for d in window[:-1]]),
            ("Oracle Backup", bs2, "Backup", "VMware", ["oracle03"], repos[2], False,
             [(datetime(2025, 11, 2, 13, 41, 58, tzinfo=timezone.utc), 36, "Success", "")]),
            ("DC Backup", bs3, "Backup", "VMware", ["dc01"], repos[3], True,
             [(day(d, 11, 48, 12), 9 if d != (12, 3) else 14,
               "Warning" if d == (12, 3) else "Success",
               "dc01: changed block tracking was reset; the whole disk was read" if d == (12, 3) else "")
              for d in window]),
            ("Fileserver Replication", bs1, "Replica", "VMware", ["fs01"], None, True,
             [(day(d, 22, 0, 5), 16 if d != (12, 2) else 31,
               "Warning" if d == (12, 2) else "Success",
               "fs01: the replica's datastore is 91% full" if d == (12, 2) else "")
              for d in window[:-1]]),
        ]
        jobs = []
        backups = []
        self.sessions = []  # (session Res, job spec, start, end, result)
        self.tasks = []  # (task Res, vm, result, start)
        points = self.restore_chain(bs1, bs2, bs3, vm_ref)
        self.points = points
        job_by_vm = {}
        for name, server, jtype, platform, jvms, repo, scheduled, runs in jobs_spec:
            j = Res("Job", f"/jobs/{uid_of('job', name)}", name)
            sessions_path = j.href + ("/replicaSessions" if jtype == "Replica" else "/backupSessions")
            session_list = "ReplicaJobSessionReferenceList" if jtype == "Replica" else "BackupJobSessionReferenceList"
            next_run = None
            if scheduled:
                last = runs[-1][0]
                next_run = utc(last + timedelta(days=1))
            j.fields = [("JobType", jtype), ("Platform", platform), ("Description", f"{name}: {', '.join(jvms)}"),
                        ("ScheduleConfigured", True), ("ScheduleEnabled", scheduled), ("NextRun", next_run)]
            j.links = [server.ref(), ("Alternate", "JobReference", j.href, name), ("Edit", "JobReference", j.href, None),
                       ("Clone", None, j.href + "?action=clone", None),
                       ("ToggleScheduleEnabled", None, j.href + "?action=toggleScheduleEnabled", None),
                       ("Down", "ObjectInJobList", j.href + "/includes", None),
                       ("Down", session_list, sessions_path, None),
                       ("Create", "ObjectInJob", j.href + "/includes", None),
                       ("Start", None, j.href + "?action=start", None), ("Stop", None, j.href + "?action=stop", None),
                       ("Retry", None, j.href + "?action=retry", None)]
            j.server, j.jtype, j.repo, j.vms, j.scheduled, j.runs = server, jtype, repo, jvms, scheduled, runs
            jobs.append(self.add(j))
            includes = []
            for vm in jvms:
                job_by_vm[vm] = j
                oid = uid_of("include", name, vm)
                o = Res("ObjectInJob", f"{j.path}/includes/{oid}", vm, uid=False, named=False, entity_href=False)
                o.fields = [("ObjectInJobId", oid), ("HierarchyObjRef", vm_ref(vm)), ("Name", vm), ("DisplayName", vm)]
                o.links = [("Delete", "ObjectInJob", o.href, vm), ("Up", "Job", j.href + "?format=Entity", name)]
                includes.append(self.add(o))
            self.collection(f"{j.path}/includes", "ObjectInJob", includes, entities="list", element="ObjectsInJob")
            if jtype == "Backup":
                b = Res("Backup", f"/backups/{uid_of('backup', name)}", name,
                        [("Platform", platform), ("BackupType", "Standard")])
                b.links = [repo.ref(), server.ref(), ("Alternate", "BackupReference", b.href, name),
                           ("Down", "RestorePointReferenceList", b.href + "/restorePoints", None),
                           ("Down", "BackupFileReferenceList", b.href + "/backupFiles", None)]
                b.ref_links = [server.ref(), repo.ref(), ("Alternate", "Backup", b.href + "?format=Entity", name),
                               ("Down", "RestorePointReferenceList", b.href + "/restorePoints", None),
                               ("Down", "BackupFileReferenceList", b.href + "/backupFiles", None)]
                b.job, b.repo = j, repo
                backups.append(self.add(b))
                j.backup = b
        self.jobs = jobs
        self.backups = backups
        self.link_chain(backups)

        # NAS (10 and later): a file server, a job backing up its share to the default repository.
        nas_jobs, file_servers = [], []
        if self.nas:
            fs = Res("FileServer", f"/nas/fileServers/{uid_of('nas', 'srv12')}", "srv12.tech.local",
                     [("Description", "Departmental file server")])
            fs.links = [bs1.ref(), ("Alternate", "FileServerReference", fs.href, fs.name)]
            file_servers.append(self.add(fs))
            nj = Res("NasJob", f"/nas/jobs/{uid_of('nas', 'job')}", "File Share Backup", element="NASJob")
            nj.fields = [("Description", "File Share Backup: \\\\srv12\\share"), ("ScheduleConfigured", True),
                         ("ScheduleEnabled", True), ("NextRun", utc(day((12, 7), 23, 0)))]
            nj.links = [bs1.ref(), ("Alternate", "JobReference", nj.href, nj.name),
                        ("Down", "NasObjectList", nj.href + "/includes", None),
                        ("ToggleScheduleEnabled", None, nj.href + "/toggleScheduleEnabled", None),
                        ("Down", "BackupJobSessionReferenceList", nj.href + "/backupSessions", None),
                        ("Start", None, nj.href + "/start", None), ("Stop", None, nj.href + "/stop", None),
                        ("Retry", None, nj.href + "/retry", None)]
            nj.server, nj.jtype, nj.vms, nj.scheduled, nj.repo = bs1, "NasBackup", [], True, repos[0]
            nj.runs = [(day(d, 23, 0, 4), 11, "Success", "") for d in window[7:-1]]
            nas_jobs.append(self.add(nj))
            oid = uid_of("nas", "include")
            no = Res("NasObject", f"{nj.path}/includes/{oid}", "\\\\srv12\\share", element="NASObject", uid=False,
                     named=False, entity_href=False)
            no.fields = [("HierarchyObjRef", f"urn:NasBackup:BackupServer:{bs1.id}.{fs.id}"), ("ObjectInJobId", oid),
                         ("FileOrFolder", "\\\\srv12\\share"), ("FileServerUid", f"urn:veeam:FileServer:{fs.id}")]
            no.links = [("Up", "NasJobReference", nj.href, nj.name)]
            self.add(no)
            self.collection(f"{nj.path}/includes", "NasObject", [no], entities="list", element="NASObjects")
        self.nas_jobs = nas_jobs
        self.file_servers = file_servers

        # Sessions: a job session per run, a task session per VM of it.
        backup_sessions, replica_sessions, backup_tasks, replica_tasks = [], [], [], []
        for j in jobs + nas_jobs:
            replica = j.jtype == "Replica"
            own = []
            for start, minutes, result, reason in j.runs:
                end = start + timedelta(minutes=minutes, seconds=17)
                kind = "ReplicaJobSession" if replica else "BackupJobSession"
                sid = uid_of("session", j.name, stamp(start))
                name = f"{j.name}@{stamp(start)}"
                coll = "replicaSessions" if replica else "backupSessions"
                s = Res(kind, f"/{coll}/{sid}", name)
                task_coll = "replicaTaskSessions" if replica else "taskSessions"
                s.links = [j.server.ref(), ("Up", "JobReference", j.href, j.name),
                           ("Alternate", f"{kind}Reference", s.href, name)]
                # A NAS session lists no VM tasks [INF: its task list is there, empty].
                s.links.append(("Down", ("ReplicaTaskSessionReferenceList" if replica else "BackupTaskSessionReferenceList"),
                                f"{s.href}/{task_coll}", None))
                s.links.append(("Stop", None, s.href + "?action=stop", None))
                related = [p for p in self.points_by_session.get((j.name, stamp(start)), [])]
                for rp in related:
                    s.links.append(("Related", "RestorePointReference", rp.href, rp.name))
                failure = reason if result != "Success" else None
                fields = [("JobUid", f"urn:veeam:Job:{j.id}"), ("JobName", j.name), ("JobType", j.jtype),
                          ("CreationTimeUTC", utc(start, 233)), ("EndTimeUTC", utc(end, 480)), ("State", "Stopped"),
                          ("Result", result), ("Progress", 100), ("IsRetry", False)]
                if self.modern:
                    fields.append(("FailureMessage", failure))
                s.fields = fields
                s.job, s.start, s.end, s.result = j, start, end, result
                self.add(s)
                own.append(s)
                (replica_sessions if replica else backup_sessions).append(s)
                tasks = []
                for vm in j.vms:
                    tkind = "ReplicaTaskSession" if replica else "BackupTaskSession"
                    tcoll = "replicaTaskSessions" if replica else "backupTaskSessions"
                    tid = uid_of("task", j.name, vm, stamp(start))
                    tstart = start + timedelta(seconds=52)
                    tname = f"{vm}@{stamp(tstart)}"
                    t = Res(tkind, f"/{tcoll}/{tid}", tname, attrs=[("VmDisplayName", vm)])
                    t.links = [j.server.ref(), ("Up", f"{kind}Reference", s.href, name),
                               ("Alternate", f"{tkind}Reference", t.href, tname)]
                    vp = self.vm_point_by_session.get((j.name, stamp(start), vm))
                    if vp is not None:
                        t.links.append(("Related", vp.kind, vp.href + "?format=Entity", vp.name))
                    size = vms[vm][2]
                    t.fields = [("JobSessionUid", f"urn:veeam:{kind}:{sid}"), ("CreationTimeUTC", utc(tstart, 117)),
                                ("EndTimeUTC", utc(end - timedelta(seconds=9), 350)), ("State", "Completed"),
                                ("Result", result), ("Reason", reason), ("TotalSize", size)]
                    t.vm, t.result, t.start = vm, result, tstart
                    self.add(t)
                    tasks.append(t)
                    (replica_tasks if replica else backup_tasks).append(t)
                self.collection(f"{s.path}/{task_coll}", "ReplicaTaskSession" if replica else "BackupTaskSession",
                                tasks, entities=False)
            sessions_sub = f"{j.path}/{'replicaSessions' if replica else 'backupSessions'}"
            self.collection(sessions_sub, own[0].kind, own, entities=False)
        order = lambda xs: sorted(xs, key=lambda s: s.start, reverse=True)
        self.backup_sessions = order(backup_sessions)
        self.replica_sessions = order(replica_sessions)
        self.backup_tasks = order(backup_tasks)
        self.replica_tasks = order(replica_tasks)
        self.collection("/jobs", "Job", jobs)
        if self.nas:
            self.collection("/nas/jobs", "NasJob", nas_jobs, element="NASJobs")
            self.collection("/nas/fileServers", "FileServer", file_servers)
        self.collection("/backupSessions", "BackupJobSession", self.backup_sessions)
        self.collection("/replicaSessions", "ReplicaJobSession", self.replica_sessions)
        self.collection("/backupTaskSessions", "BackupTaskSession", self.backup_tasks)
        self.collection("/replicaTaskSessions", "ReplicaTaskSession", self.replica_tasks)
        self.collection("/backups", "Backup", backups)
        for b in backups:
            self.collection(f"{b.path}/restorePoints", "RestorePoint", [p for p in points["rp"] if p.backup is b], entities=False)
            self.collection(f"{b.path}/backupFiles", "BackupFile", [f for f in points["bf"] if f.backup is b], entities=False)
        self.collection("/restorePoints", "RestorePoint", points["rp"])
        for rp in points["rp"]:
            self.collection(f"{rp.path}/vmRestorePoints", "VmRestorePoint", [v for v in points["vrp"] if v.rp is rp], entities=False)
            self.collection(f"{rp.path}/vAppRestorePoints", "VAppRestorePoint", [], entities=False)
            self.collection(f"{rp.path}/backupFiles", "BackupFile", [rp.file], entities=False)
        self.collection("/vmRestorePoints", "VmRestorePoint", points["vrp"])
        for v in points["vrp"]:
            self.collection(f"{v.path}/mounts", "VmRestorePointMount", [], entities=False)
        self.collection("/backupFiles", "BackupFile", points["bf"])
        for f in points["bf"]:
            self.collection(f"{f.path}/restorePoints", "RestorePoint", [rp for rp in points["rp"] if rp.file is f], entities=False)
            self.collection(f"{f.path}/vmRestorePoints", "VmRestorePoint", [v for v in points["vrp"] if v.file is f], entities=False)
        for r in repos:
            self.collection(f"{r.path}/backups", "Backup", [b for b in backups if b.repo is r], entities=False)
            self.collection(f"{r.path}/replicas", "Replica", [], entities=False)

        # The replica of fs01 and its last three points (the job keeps 3).
        rj = jobs[3]
        rep = Res("Replica", f"/replicas/{uid_of('replica', rj.name)}", rj.name, [("Platform", "VMware")])
        rep.links = [bs1.ref(), ("Alternate", "ReplicaReference", rep.href, rep.name),
                     ("Down", "VmReplicaPointReferenceList", rep.href + "/vmReplicaPoints", None)]
        self.add(rep)
        replica_points = []
        for s in [s for s in self.replica_sessions if s.result != "Failed"][:3]:
            t = s.start + timedelta(minutes=3, seconds=41)
            pid = uid_of("replica-point", stamp(t))
            p = Res("VmReplicaPoint", f"/vmReplicaPoints/{pid}", f"fs01@{stamp(t)}", attrs=[("VmDisplayName", "fs01")])
            p.fields = [("CreationTimeUTC", utc(t, 540)), ("PointType", "Snapshot"),
                        ("HierarchyObjRef", vm_ref("fs01"))]
            p.links = [bs1.ref(), ("Up", "ReplicaReference", rep.href, rep.name),
                       ("Alternate", "VmReplicaPointReference", p.href, p.name)]
            replica_points.append(self.add(p))
            for task in self.replica_tasks:
                if task.start.date() == s.start.date():
                    task.links.append(("Related", "VmReplicaPoint", p.href + "?format=Entity", p.name))
        self.replica_points = replica_points
        self.collection("/replicas", "Replica", [rep])
        self.collection(f"{rep.path}/vmReplicaPoints", "VmReplicaPoint", replica_points, entities=False)
        self.collection("/vmReplicaPoints", "VmReplicaPoint", replica_points)

        # Restore sessions: the restore flow's own one (as its cassette has it) and two older ones.
        flow_restore = Res("RestoreSession", "/restoreSessions/ed8e95ca-6ec5-4a2d-978b-e1108c4130b6",
                           "ubuntu88@2025-10-21 17:10:02", attrs=[("VmDisplayName", "ubuntu88")])
        flow_restore.links = [bs1.ref(), ("Alternate", "RestoreSessionReference", flow_restore.href, flow_restore.name),
                              ("Related", "VmRestorePointReference", points["vrp"][1].href, points["vrp"][1].name)]
        flow_restore.fields = [("JobType", "RestoreVm"), ("CreationTimeUTC", "2025-10-21T17:10:02.017Z"),
                               ("EndTimeUTC", "2025-10-21T17:16:41.803Z"), ("State", "Stopped"), ("Result", "Success"),
                               ("Progress", 100)]
        restores = [self.add(flow_restore)]
        for vm, point, t, minutes, result in [
            ("oracle03", points["vrp"][0], datetime(2025, 11, 3, 9, 12, 40, tzinfo=timezone.utc), 21, "Success"),
            ("dc01", points["vrp"][3], datetime(2025, 12, 7, 13, 5, 11, tzinfo=timezone.utc), 2, "Failed"),
        ]:
            rid = uid_of("restore", vm, stamp(t))
            server = vms[vm][0]
            r = Res("RestoreSession", f"/restoreSessions/{rid}", f"{vm}@{stamp(t)}", attrs=[("VmDisplayName", vm)])
            r.links = [server.ref(), ("Alternate", "RestoreSessionReference", r.href, r.name),
                       ("Related", "VmRestorePointReference", point.href, point.name)]
            r.fields = [("JobType", "RestoreVm"), ("CreationTimeUTC", utc(t, 17)),
                        ("EndTimeUTC", utc(t + timedelta(minutes=minutes), 803)), ("State", "Stopped"),
                        ("Result", result), ("Progress", 100)]
            restores.append(self.add(r))
        self.restores = restores
        self.collection("/restoreSessions", "RestoreSession", restores)

        # Agents: a protection group and the two computers it discovered.
        pg = Res("AgentProtectionGroup", f"/agents/protectionGroups/{uid_of('pg', '1')}", "Protection Group 1",
                 [("Description", "Office workstations")])
        pg.links = [bs1.ref(), ("Alternate", "AgentProtectionGroupReference", pg.href, pg.name)]
        self.add(pg)
        computers = []
        for name, ip, status, os in [
            ("ws01.tech.local", "172.17.53.89", "Online", "Microsoft Windows 11 Enterprise (64-bit)"),
            ("ws02.tech.local", "172.17.53.90", "Offline", "Microsoft Windows 10 Enterprise (64-bit)"),
        ]:
            cid = uid_of("computer", name)
            c = Res("DiscoveredComputer", f"/agents/discoveredComputers/{cid}", name)
            c.fields = [("HostStatus", status), ("AgentVersion", {"9.5": "3.0.2.1170", "10": "4.0.0.1811", "11": "5.0.0.4301",
                                                                  "12": "6.0.0.960", "13": "6.3.2.1205"}[rel]),
                        ("AgentStatus", "Installed"), ("OsVersion", os), ("IpAddress", ip),
                        ("HierarchyObjRef", f"urn:AgentForWindows:VeeamAgent:00000000-0000-0000-0000-000000000000.{cid}")]
            c.links = [bs1.ref(), ("Alternate", "DiscoveredComputerReference", c.href, name),
                       ("Up", "AgentProtectionGroupReference", pg.href, pg.name)]
            computers.append(self.add(c))
        self.collection("/agents/protectionGroups", "AgentProtectionGroup", [pg])
        self.collection("/agents/discoveredComputers", "DiscoveredComputer", computers)
        self.collection("/agents/jobs", "AgentBackupJob", [], entities=False)
        self.computers = computers

        # Security: the roles (their ids are the same in every release), accounts, their roles and scopes.
        role_list = [
            ("Portal User", "d19a3d33-cb77-4ffe-94e6-001432483a4e"),
            ("SQL Restore Operator", "f78a92b8-9f06-4f1e-b522-4f0927cabd0f"),
            ("Oracle Restore Operator", "e9d90e66-b6d4-49dc-8986-73cf33489623"),
            ("File Restore Operator", "f84a8b62-49b8-4d0c-b25b-92321b52bab6"),
            ("Exchange Restore Operator", "f83e4c81-0815-452f-9377-9d573dd9d481"),
            ("Portal Administrator", "5f37a46b-9ce2-40f4-8a62-b45b079257fc"),
            ("VM Restore Operator", "c11c0c38-ba8b-49c7-bf70-fc2058fff1e2"),
        ]
        if rel in ("9.5", "10"):
            role_list = [r for r in role_list if r[0] != "Oracle Restore Operator"]
        roles = {}
        for name, rid in role_list:
            r = Res("EnterpriseRole", f"/security/roles/{rid}", name)
            r.links = [("Alternate", "EnterpriseRoleReference", r.href, name)]
            r.ref_links = [("Alternate", "EnterpriseRole", r.href + "?format=Entity", name)]
            roles[name] = self.add(r)
        self.collection("/security/roles", "EnterpriseRole", list(roles.values()))
        accounts = []
        for name, atype, all_vms, account_roles, scopes in [
            ("SRV12\\Administrator", "User", True, ["Portal Administrator"], []),
            ("BUILTIN\\Administrators", "Group", True, ["Portal Administrator"], []),
            ("TECH\\william.fox", "User", False, ["VM Restore Operator"],
             [("ubuntu88", "vcenter01.tech.local", "VirtualMachine", vm_ref("ubuntu88"))]),
        ]:
            aid = uid_of("account", name)
            a = Res("EnterpriseAccount", f"/security/accounts/{aid}", name,
                    [("AccountType", atype), ("AllowRestoreAllVms", all_vms)])
            a.links = [("Alternate", "EnterpriseAccountReference", a.href, name),
                       ("Down", "EnterpriseAccountInRoleList", a.href + "/roles", None),
                       ("Create", "EnterpriseAccountInRole", a.href + "/roles", None),
                       ("Down", "EnterpriseAccountHierarchyScopeList", a.href + "/scopes", None),
                       ("Create", "EnterpriseAccountHierarchyScope", a.href + "/scopes", None),
                       ("Delete", None, a.href, None), ("ToggleRestoreScopesEnabled", None, a.href, None)]
            a.ref_links = [("Alternate", "EnterpriseAccount", a.href + "?format=Entity", name)]
            self.add(a)
            accounts.append(a)
            in_roles = []
            for role in account_roles:
                r = roles[role]
                x = Res("EnterpriseAccountInRole", f"{a.path}/roles/{r.id}", role, [("RoleName", role)], uid=False,
                        named=False, entity_href=False)
                x.links = [("Delete", None, x.href, None)]
                in_roles.append(self.add(x))
            self.collection(f"{a.path}/roles", "EnterpriseAccountInRole", in_roles, entities="list",
                            element="EnterpriseAccountInRoleList")
            in_scopes = []
            for scope_name, root_name, obj_type, obj_ref in scopes:
                sid = uid_of("scope", name, scope_name)
                x = Res("EnterpriseAccountHierarchyScope", f"{a.path}/scopes/{sid}", scope_name, uid=False, named=False,
                        entity_href=False)
                x.fields = [("Name", scope_name), ("HierarchyRootName", root_name), ("Platform", "VMware"),
                            ("HierarchyObjectType", obj_type), ("HierarchyObjRef", obj_ref), ("State", "Processed")]
                x.links = [("Delete", "EnterpriseAccountHierarchyScope", x.href, None)]
                in_scopes.append(self.add(x))
            self.collection(f"{a.path}/scopes", "EnterpriseAccountHierarchyScope", in_scopes, entities="list",
                            element="EnterpriseAccountHierarchyScopes")
        self.collection("/security/accounts", "EnterpriseAccount", accounts)
        self.accounts = accounts

        # What the estate has none of: listed empty, because it has none.
        for path, kind in [("/failoverPlans", "FailoverPlan"), ("/vAppRestorePoints", "VAppRestorePoint"),
                           ("/catalog/vms", "CatalogVm"), ("/wanAccelerators", "WanAccelerator"),
                           ("/externalRepositories", "ExternalRepository")]:
            self.collection(path, kind, [])

    def restore_chain(self, bs1, bs2, bs3, vm_ref):
        """The restore flow's points: backups' restore points, their files and VM points."""
        self.points_by_session = {}
        self.vm_point_by_session = {}
        spec = [
            # vm point id, vm, time (ms), rp id, rp time, file id, file name, job, server, session start
            ("3b706812-05e7-4e00-a70b-233816202528", "oracle03", (2025, 11, 2, 13, 42, 25, 830),
             "53601605-2f36-4832-96c0-01c323eb5bcf", (2025, 11, 2, 13, 41),
             "c5359495-36c9-47cf-8027-f5f61499b522", "Oracle BackupD2025-11-02T164158.vbk", "Oracle Backup", bs2,
             "2025-11-02 13:41:58", 78383415296, 142606336000),
            ("6c958531-3177-4055-b0ce-dc4ef1ce6433", "ubuntu88", (2025, 10, 20, 20, 4, 7, 267),
             "588d2507-4b4b-4b55-a851-3de77114fbf2", (2025, 10, 20, 20, 0),
             "071bd77e-c00c-479a-a378-19c3a0c39c80", "Backup Job 3D2025-10-20T220020_159E.vib", "Backup Job 3", bs1,
             "2025-10-20 20:00:20", 1932735283, 5368709120),
            ("f5fbed2b-697c-415a-be75-086be4034e1e", "ubuntu88", (2025, 10, 19, 20, 3, 51, 103),
             "7df86463-2266-49f2-92a1-ee40c345a121", (2025, 10, 19, 20, 0),
             "963d31cc-216f-4757-9198-4738858806ca", "Backup Job 3D2025-10-19T220018_3A1C.vbk", "Backup Job 3", bs1,
             "2025-10-19 20:00:18", 21474836480, 42949672960),
            ("92357047-d358-4326-8d6d-28bc619b2876", "dc01", (2025, 12, 7, 11, 48, 39, 512),
             "ecda6b9f-1780-452d-ad44-6726855b6547", (2025, 12, 7, 11, 48),
             "5ef9af51-3bf2-4ae3-9988-35b618f5d19f", "DC BackupD2025-12-07T114812.vbk", "DC Backup", bs3,
             "2025-12-07 11:48:12", 30064771072, 60129542144),
        ]
        out = {"vrp": [], "rp": [], "bf": []}
        self.chain_spec = spec
        for vid, vm, vt, rpid, rpt, fid, fname, job, server, session, size, data in spec:
            t = datetime(*vt[:6], tzinfo=timezone.utc)
            rp_t = datetime(*rpt, tzinfo=timezone.utc)
            full = fname.endswith(".vbk")
            f = Res("BackupFile", f"/backupFiles/{fid}", fname)
            folder = {"Oracle Backup": "/mnt/backup", "Backup Job 3": "E:\\Backups", "DC Backup": "D:\\Backups"}[job]
            sep = "/" if folder.startswith("/") else "\\"
            f.fields = [("FilePath", f"{folder}{sep}{job}{sep}{fname}"), ("BackupSize", size), ("DataSize", data),
                        ("DeduplicationRatio", 1.4 if full else 1.1), ("CompressRatio", 1.9 if full else 1.6),
                        ("CreationTimeUtc", utc(rp_t)), ("FileType", "vbk" if full else "vib")]
            f.server, f.job, f.full = server, job, full
            rp = Res("RestorePoint", f"/restorePoints/{rpid}", point_name(rp_t), [("BackupDateUTC", utc(rp_t, 777))])
            rp.server, rp.job, rp.file, rp.time = server, job, f, rp_t
            v = Res("VmRestorePoint", f"/vmRestorePoints/{vid}", f"{vm}@{stamp(t)}", attrs=[("VmDisplayName", vm)])
            v.vm, v.rp, v.file, v.server = vm, rp, f, server
            fields = [("CreationTimeUTC", utc(t, vt[6]))]
            if self.v13:
                fields.append(("VmName", vm))
            fields += [("Algorithm", "Full" if full else "Incremental"), ("PointType", "Full" if full else "Increment"),
                       ("HierarchyObjRef", vm_ref(vm))]
            v.fields = fields
            up_file = [f.ref()] if self.v13 else []
            v.links = ([("Restore", None, v.href + "?action=restore", None), server.ref(), rp.ref()] + up_file
                       + [("Alternate", "VmRestorePointReference", v.href, v.name),
                          ("Down", "VmRestorePointMountList", v.href + "/mounts", None),
                          ("Create", "VmRestorePointMount", v.href + "/mounts", None)])
            v.ref_links = [server.ref(), rp.ref()] + up_file + [("Alternate", "VmRestorePoint", v.href + "?format=Entity", v.name)]
            out["vrp"].append(self.add(v))
            out["rp"].append(self.add(rp))
            out["bf"].append(self.add(f))
            self.points_by_session.setdefault((job, session), []).append(rp)
            self.vm_point_by_session[(job, session, vm)] = v
        return out

    def link_chain(self, backups):
        by_job = {b.name: b for b in backups}
        for rp in self.points["rp"]:
            b = by_job[rp.job]
            rp.backup = b
            rp.links = [("Up", "BackupReference", b.href, b.name), rp.server.ref(),
                        ("Alternate", "RestorePointReference", rp.href, rp.name),
                        ("Down", "VmRestorePointReferenceList", rp.href + "/vmRestorePoints", None),
                        ("Down", "VAppRestorePointReferenceList", rp.href + "/vAppRestorePoints", None),
                        ("Related", "RestorePointReferenceList", rp.href + "/backupFiles", None)]
            rp.ref_links = [rp.server.ref(), ("Up", "BackupReference", b.href, b.name),
                            ("Alternate", "RestorePoint", rp.href + "?format=Entity", rp.name),
                            ("Down", "VmRestorePointReferenceList", rp.href + "/vmRestorePoints", None),
                            ("Related", "RestorePointReferenceList", rp.href + "/backupFiles", None)]
        for f in self.points["bf"]:
            b = by_job[f.job]
            f.backup = b
            f.links = [("Up", "BackupReference", b.href, b.name), f.server.ref(),
                       ("Alternate", "BackupFileReference", f.href, f.name),
                       ("Related", "BackupFileReferenceList", f.href + "/restorePoints", None),
                       ("Down", "VmRestorePointReferenceList", f.href + "/vmRestorePoints", None)]

    # ------------------------------------------------------------------------------------------
    # The summary reports, computed from the entities

    def reports(self):
        day_ago = NOW - timedelta(days=1)
        all_jobs = self.jobs + self.nas_jobs
        backup_jobs = [j for j in all_jobs if j.jtype in ("Backup", "NasBackup")]
        replica_jobs = [j for j in all_jobs if j.jtype == "Replica"]
        recent = [s for s in self.backup_sessions + self.replica_sessions if s.start >= day_ago]
        count = lambda r: sum(1 for s in recent if s.result == r)
        duration = lambda ss: max([int((s.end - s.start).total_seconds()) for s in ss], default=0)
        longest = lambda ss: max(ss, key=lambda s: s.end - s.start).job.name if ss else ""
        recent_backup = [s for s in recent if s.job.jtype != "Replica"]
        recent_replica = [s for s in recent if s.job.jtype == "Replica"]
        last_task = {}
        for t in sorted(self.backup_tasks + self.replica_tasks, key=lambda t: t.start):
            last_task[t.vm] = t.result
        overview = [
            ("BackupServers", len(self.servers)),
            ("ProxyServers", len(self.servers)),
            ("RepositoryServers", len({r.server.id for r in self.repos})),
            ("RunningJobs", 0),
            ("ScheduledJobs", sum(1 for j in all_jobs if j.scheduled)),
            ("SuccessfulVmLastestStates", sum(1 for r in last_task.values() if r == "Success")),
            ("WarningVmLastestStates", sum(1 for r in last_task.values() if r == "Warning")),
            ("FailedVmLastestStates", sum(1 for r in last_task.values() if r == "Failed")),
        ]
        vrp = self.points["vrp"]
        backed = {v.vm for v in vrp}
        replicated = {p.attrs[0][1] for p in self.replica_points}
        window_sessions = [s for s in self.backup_sessions if s.job.jtype == "Backup" and s.start >= day_ago]
        ok = sum(1 for s in window_sessions if s.result != "Failed")
        vms_overview = [
            ("ProtectedVms", len(backed | replicated)),
            ("BackedUpVms", len(backed)),
            ("ReplicatedVms", len(replicated)),
            ("RestorePoints", len(vrp)),
            ("FullBackupPointsSize", sum(f.fields[1][1] for f in self.points["bf"] if f.full)),
            ("IncrementalBackupPointsSize", sum(f.fields[1][1] for f in self.points["bf"] if not f.full)),
            ("ReplicaRestorePointsSize", 0),
            ("SourceVmsSize", sum(self.vms[vm][2] for vm in backed | replicated)),
            ("SuccessBackupPercents", round(100 * ok / len(window_sessions)) if window_sessions else 100),
            ("ProtectedVmsReportLink", "Workspace/ViewReport.aspx?definition=8a56d84f-1790-4f54-ab20-2e0bfdefa16b&ShowParams=1"),
        ]
        jobs_total = count("Success") + count("Warning") + count("Failed")
        job_statistics = [
            ("RunningJobs", 0),
            ("ScheduledJobs", sum(1 for j in all_jobs if j.scheduled)),
            ("ScheduledBackupJobs", sum(1 for j in backup_jobs if j.scheduled)),
            ("ScheduledReplicaJobs", sum(1 for j in replica_jobs if j.scheduled)),
            ("TotalJobRuns", jobs_total),
            ("SuccessfulJobRuns", count("Success")),
            ("WarningsJobRuns", count("Warning")),
            ("FailedJobRuns", count("Failed")),
            ("MaxJobDuration", duration(recent)),
            ("MaxBackupJobDuration", duration(recent_backup)),
            ("MaxReplicaJobDuration", duration(recent_replica)),
            ("MaxDurationBackupJobName", longest(recent_backup)),
            ("MaxDurationReplicaJobName", longest(recent_replica)),
            ("BackupJobStatusReportLink", "Workspace/ViewReport.aspx?definition=7962844d-db6c-4d29-8b6e-4e0f7db0785f&ShowParams=1"),
        ]
        days = []
        for back in range(7):
            d = (NOW - timedelta(days=back)).date()
            backed_up = {t.vm for t in self.backup_tasks if t.start.date() == d and t.result != "Failed"}
            repl = {t.vm for t in self.replica_tasks if t.start.date() == d and t.result != "Failed"}
            days.append((d, len(backed_up), len(repl)))
        periods = []
        for r in self.repos:
            files = [f for f in self.points["bf"] if f.backup.repo is r]
            periods.append((r.name, r.fields[0][1], r.fields[1][1], sum(f.fields[1][1] for f in files)))
        return overview, vms_overview, job_statistics, days, periods


# ----------------------------------------------------------------------------------------------
# Exchanges


def exchange(seq, uri, accept, body):
    lines = [
        f"- seq: {seq}",
        "  request:",
        "    method: GET",
        f"    uri: {uri}",
        "    headers:",
        f"    - Accept: {accept}",
        '    - X-RestSvcSessionId: "{{token:1}}"',
        "  response:",
        "    status: 200",
        "    headers:",
        f"    - Content-Type: {accept}",
        "    - Server: Microsoft-HTTPAPI/2.0",
        '    - Date: "{{date}}"',
        "    body: |",
    ]
    lines += ["      " + l if l else "" for l in body.rstrip("\n").split("\n")]
    return "\n".join(lines) + "\n"


class Writer:
    def __init__(self, estate, json, recorded):
        self.e = estate
        self.json = Json(estate.release) if json else None
        self.accept = "application/json" if json else "application/xml"
        self.recorded = recorded  # request URIs the restore cassettes hold
        self.out = []

    def add(self, uri, body):
        if uri.lower() in self.recorded:
            return
        self.out.append(exchange(len(self.out) + 1, uri, self.accept, body))

    def refs(self, items):
        if self.json:
            return self.json.array("Refs", [self.json.ref(r, "    ") for r in items])
        if not items:
            return f'<EntityReferences xmlns="{NS}" />'
        lines = [f'<EntityReferences xmlns="{NS}">']
        for r in items:
            lines += xml_ref(r)
        return "\n".join(lines + ["</EntityReferences>"])

    def entities(self, element, items):
        if self.json:
            return self.json.array(element, [self.json.entity(r, "    ") for r in items])
        if not items:
            return f'<{element} xmlns="{NS}" />'
        lines = [f'<{element} xmlns="{NS}">']
        for r in items:
            lines += xml_entity(r, False, "  ")
        return "\n".join(lines + [f"</{element}>"])

    def frame(self, element, pairs, extra=""):
        if self.json:
            pairs = list(pairs)
            if self.json.nulls:
                pairs += [("Href", None), ("Links", None), ("Type", None)]
            return self.json.obj(pairs, "")
        body = [f'<{element} xmlns="{NS}"{extra}>'] + xml_fields(pairs, "  ") + [f"</{element}>"]
        return "\n".join(body)

    def write(self):
        e = self.e
        for path, kind, members, entities, element in e.collections:
            if entities == "list":
                self.add(f"/api{path}", self.entities(element or plural(kind), members))
                continue
            self.add(f"/api{path}", self.refs(members))
            if entities:
                self.add(f"/api{path}?format=Entity", self.entities(element or plural(kind), members))
        self.services()
        self.summary()
        return "".join(self.out)

    def standalone(self, r):
        if self.json:
            return self.json.entity(r)
        return '<?xml version="1.0" encoding="utf-8"?>\n' + "\n".join(xml_entity(r, True))

    def service(self, element, kind, path, links):
        href = O + path
        if self.json:
            j = self.json
            return (
                "{\n  " + j.key("Links") + ": " + j.links(links, "  ") + ",\n  " + j.key("Href") + ": "
                + j.scalar(href) + ",\n  " + j.key("Type") + ": " + j.scalar(kind) + "\n}"
            )
        lines = [f'<{element} Type="{kind}" Href="{href}" xmlns="{NS}">', "  <Links>"]
        lines += ["    " + xml_link(l) for l in links]
        return "\n".join(lines + ["  </Links>", f"</{element}>"])

    def services(self):
        e = self.e
        up = ("Up", "EnterpriseManager", O + "/", None)
        agents = [up, ("Down", "AgentBackupJobReferenceList", O + "/agents/jobs", None),
                  ("Down", "AgentProtectionGroupReferenceList", O + "/agents/protectionGroups", None),
                  ("Down", "DiscoveredComputerReferenceList", O + "/agents/discoveredComputers", None)]
        self.add("/api/agents", self.service("AgentsService", "AgentsService", "/agents", agents))
        if e.nas:
            nas = [up, ("Down", "NasJobReferenceList", O + "/nas/jobs", None),
                   ("Down", "FileServerReferenceList", O + "/nas/fileServers", None)]
            self.add("/api/nas", self.service("NasService", "NasService", "/nas", nas))
        security = [("Down", "EnterpriseAccountReferenceList", O + "/security/accounts", None),
                    ("Down", "EnterpriseRoleReferenceList", O + "/security/roles", None),
                    ("Create", None, O + "/security/accounts", None),
                    ("Start", None, O + "/security/accounts?action=rebuildScope", None)]
        self.add("/api/security", self.service("EnterpriseSecuritySettings", "EnterpriseSecuritySettings", "/security", security))

    def summary(self):
        overview, vms, stats, days, periods = self.e.reports()
        frames = [("Overview", "overview"), ("VmsOverview", "vms_overview"), ("JobStatistics", "job_statistics"),
                  ("ProcessedVms", "processed_vms"), ("Repositories", "repository")]
        links = [("Down", "ReportFrame", f"{O}/reports/summary/{p}", n) for n, p in frames]
        self.add("/api/reports/summary", self.service("SummaryReport", "SummaryReport", "/reports/summary", links))
        self.add("/api/reports/summary/overview", self.frame("OverviewReportFrame", overview))
        self.add("/api/reports/summary/vms_overview", self.frame("VmsOverviewReportFrame", vms))
        self.add("/api/reports/summary/job_statistics", self.frame("JobStatisticsReportFrame", stats))
        if self.json:
            stamp_of = lambda d: d.strftime("%Y-%m-%dT00:00:00Z")
            day_items = [Nested([("Timestamp", stamp_of(d)), ("ReplicatedVms", r), ("BackupedVms", b)]) for d, b, r in days]
            self.add("/api/reports/summary/processed_vms", self.frame("ProcessedVmsReportFrame", [("Days", Nested(day_items))]))
            period_items = [Nested([("Name", n), ("Capacity", c), ("FreeSpace", f), ("BackupSize", s)]) for n, c, f, s in periods]
            pairs = [("Periods", Nested(period_items)), ("CapacityPlanningReportLink", CAPACITY_LINK)]
            self.add("/api/reports/summary/repository", self.frame("RepositoryReportFrame", pairs))
        else:
            day_fields = [("Day", Nested([("BackupedVms", b), ("ReplicatedVms", r), ("Timestamp", d.strftime("%Y-%m-%dT00:00:00Z"))],
                                         attributes=True)) for d, b, r in days]
            self.add("/api/reports/summary/processed_vms", self.frame("ProcessedVmsReportFrame", day_fields))
            period_fields = [("Period", Nested([("Name", n), ("Capacity", c), ("FreeSpace", f), ("BackupSize", s)]))
                             for n, c, f, s in periods]
            extra = f' CapacityPlanningReportLink="{esc(CAPACITY_LINK)}"'
            self.add("/api/reports/summary/repository", self.frame("RepositoryReportFrame", period_fields, extra))


CAPACITY_LINK = "Workspace/ViewReport.aspx?definition=62221565-102c-4ec8-851b-d61c03d972d1&ShowParams=1"


def cassette(release, json, head, recorded):
    """The estate cassette of a release: `head` is the YAML up to `exchanges:` (meta)."""
    estate = Estate(release)
    body = Writer(estate, json, recorded).write()
    return head + "exchanges:\n" + body
