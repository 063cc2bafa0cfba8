#!/usr/bin/env python3
"""A cassette whose restore point list holds N points (the reference cassette's flow, one entity
recorded): gen_points.py REFERENCE.yaml OUT.yaml N"""
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
