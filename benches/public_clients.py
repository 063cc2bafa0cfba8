#!/usr/bin/env python3
"""Driver for benches/public_clients.sh: runs three public, unmodified EM REST clients against one
`emtape serve --tls` and writes what each call got as JSON; `report` prints the table.

  probe       URL CERT                 -> {"versions": [...], "estate_now": ISO}   (GET /api/, newest session)
  veeam       URL CERT NOW OUT         PyPI veeam 0.1.5: every public method of VeeamClient
  exporter    URL CERT NOW OUT WORK    PyPI veeam-exporter 1.1.0: its own CLI, dry mode (-n), shipped metrics
  linuxfabrik URL CERT OUT             Linuxfabrik veeam-status's calls, replayed through linuxfabrik-lib
  report      WORK RELEASES SHOW       the client x release table, the requests of release SHOW; exit 1 on FAIL

NOW is the clock the time-windowed calls of the clients see ("last 24 h" of sessions): the
estate's newest backup session + 1 h unless the caller passes the wall clock. Only the
client module's own `datetime` name is pointed at a fixed clock (what libfaketime does for a
process); the clients' code is not changed. The exporter runs in a child process of this
script so that its CLI, logging and sys.exit work as when it is started from the shell.
"""
import json
import os
import re
import ssl
import subprocess
import sys
import time
import types
import urllib.request
from datetime import datetime as _real_datetime, timedelta, timezone

USER, PASSWORD = 'emtape', 'emtape'  # the mock logs on any Basic credentials
META_KEYS = {'links', 'href', 'type'}


def nonempty(value):
    """Data, not just an envelope: a list with items, a dict with a non-empty data field."""
    if value is None:
        return False
    if isinstance(value, (list, tuple)):
        return len(value) > 0
    if isinstance(value, dict):
        return any(nonempty(v) for k, v in value.items() if k.lower() not in META_KEYS)
    if isinstance(value, str):
        return value != ''
    return True  # numbers and booleans are data, 0 included


def summarize(value):
    if isinstance(value, list):
        return 'list of %d' % len(value)
    if isinstance(value, dict):
        lists = {k: len(v) for k, v in value.items() if isinstance(v, list)}
        if value.get('Name'):
            return 'Name %r, %d fields' % (value['Name'], len(value))
        if lists:
            return ', '.join('%s[%d]' % kv for kv in lists.items())
        keys = [k for k in value if k.lower() not in META_KEYS]
        return '%d keys (%s%s)' % (len(keys), ','.join(keys[:3]), ',...' if len(keys) > 3 else '')
    return repr(value)[:60]


def client_clock(now_iso):
    """A `datetime` module stand-in whose datetime.now()/today()/utcnow() read a fixed instant."""
    fixed = _real_datetime.fromisoformat(now_iso.replace('Z', '+00:00')).timestamp()

    class ClientClock(_real_datetime):
        @classmethod
        def now(cls, tz=None):
            return cls.fromtimestamp(fixed, tz)

        @classmethod
        def today(cls):
            return cls.fromtimestamp(fixed)

        @classmethod
        def utcnow(cls):
            return cls.fromtimestamp(fixed, timezone.utc).replace(tzinfo=None)

    import datetime as real_module
    shim = types.ModuleType('datetime')
    shim.__dict__.update({k: getattr(real_module, k) for k in dir(real_module) if not k.startswith('__')})
    shim.datetime = ClientClock
    return shim


def write(out, result):
    with open(out, 'w') as f:
        json.dump(result, f, indent=1, default=str)


# ------------------------------------------------------------------------------------------
def probe(url, cert):
    """The release's advertised API versions and the estate's clock (not attributed to a client)."""
    ctx = ssl.create_default_context(cafile=cert)

    def call(method, path, headers):
        req = urllib.request.Request(url + path, method=method, headers=headers)
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.headers, json.loads(r.read() or b'null')

    _, root = call('GET', '/api/', {'Accept': 'application/json'})
    sv = root.get('SupportedVersions') or root.get('supportedVersions') or {}
    sv = sv.get('SupportedVersions') or sv.get('supportedVersions') or []
    versions = [v.get('Name') or v.get('name') for v in sv]
    import base64
    basic = base64.b64encode(('%s:%s' % (USER, PASSWORD)).encode()).decode()
    hdrs, logon = call('POST', '/api/sessionMngr/?v=latest', {'Accept': 'application/json', 'Authorization': 'Basic ' + basic})
    token = hdrs['X-RestSvcSessionId']
    _, sessions = call('GET', '/api/backupSessions?format=Entity',
                       {'Accept': 'application/json', 'X-RestSvcSessionId': token})
    items = sessions.get('BackupJobSessions') or sessions.get('backupJobSessions') or []
    times = [s.get('CreationTimeUTC') or s.get('creationTimeUTC') for s in items]
    newest = max(_real_datetime.fromisoformat(t.replace('Z', '+00:00')) for t in times if t)
    estate_now = (newest + timedelta(hours=1)).astimezone(timezone.utc).isoformat().replace('+00:00', 'Z')
    camel = 'supportedVersions' in root  # EM 13 spells its JSON keys in camelCase
    names = {}  # session guid -> what it is, to name a session in a failure note
    for x in items:
        g = lambda k: x.get(k) or x.get(k[:1].lower() + k[1:]) or x.get(k.lower())
        names[(g('UID') or '').split(':')[-1]] = '%s, JobType %s, %s' % (g('Name'), g('JobType'), g('Result'))
    print(json.dumps({'versions': versions, 'estate_now': estate_now, 'camel_json': camel,
                      'logon_keys': sorted(logon or {}), 'sessions': names}))


# ------------------------------------------------------------------------------------------
def run_veeam(url, cert, now, out):
    import requests
    import veeam.client
    from veeam.client import VeeamClient
    if now != 'wall':
        veeam.client.datetime = client_clock(now)

    seen = []  # every response the client's own session got: (method, path, status)

    def hook(resp, *a, **kw):
        seen.append((resp.request.method, resp.request.path_url, resp.status_code))

    session = requests.Session()
    session.hooks['response'].append(hook)  # an observer on the Session the client accepts
    result = {'client': 'veeam 0.1.5', 'calls': [], 'clock': now}
    try:
        client = VeeamClient(url + '/api', USER, PASSWORD, verify=cert, session=session)
    except Exception as e:
        status = seen[-1][2] if seen else None
        result.update(logon='refused', logon_status=status,
                      error='%s: %s (POST /api/sessionMngr/?v=v1_4 -> %s)' % (type(e).__name__, e, status))
        return write(out, result)
    result['logon'] = 'ok'

    def call(name, fn, *args, want_data=True):
        start = len(seen)
        entry = {'call': '%s(%s)' % (name, ', '.join(repr(a) for a in args))}
        try:
            value = fn(*args)
            bad = [s for s in seen[start:] if s[2] >= 400]
            entry['requests'] = ['%s %s -> %d' % s for s in seen[start:]]
            if bad:
                entry.update(ok=False, error='HTTP %d on %s %s' % (bad[0][2], bad[0][0], bad[0][1]))
            elif want_data:
                entry.update(ok=True, nonempty=nonempty(value), got=summarize(value))
            else:
                entry.update(ok=True, nonempty=None, got='(returns nothing)')
        except Exception as e:
            entry['requests'] = ['%s %s -> %d' % s for s in seen[start:]]
            entry.update(ok=False, error='%s: %s' % (type(e).__name__, e))
            value = None
        result['calls'].append(entry)
        return value

    def guid(uid):
        return uid.split(':')[-1]

    call('get_repo_summary', client.get_repo_summary)
    jobs = call('get_jobs', client.get_jobs) or {}
    job_refs = jobs.get('Refs') or []
    if job_refs:
        call('get_job', client.get_job, guid(job_refs[0]['UID']))
    backups = call('get_backups', client.get_backups) or {}
    backup_refs = backups.get('Refs') or []
    if backup_refs:
        call('get_backup', client.get_backup, guid(backup_refs[0]['UID']))
    # the first backup whose restore point list has entries, and its first restore point
    for ref in backup_refs:
        rps = call('get_restore_points', client.get_restore_points, guid(ref['UID'])) or {}
        if rps.get('Refs'):
            call('get_vm_restore_points', client.get_vm_restore_points, guid(rps['Refs'][0]['UID']))
            break
    call('get_vms_processed_day', client.get_vms_processed_day)
    call('get_summary_job_stats', client.get_summary_job_stats)
    call('get_summary_vms', client.get_summary_vms)
    call('get_summary_overview', client.get_summary_overview)
    day = call('get_jobs_1_day', client.get_jobs_1_day) or []
    call('get_failed_jobs', client.get_failed_jobs)
    good = [s for s in day if s.get('Result') in ('Success', 'Warning')] or day
    if good:
        call('get_successful_jobs', client.get_successful_jobs, good[0]['JobName'], client.get_date_yesterday())
    call('get_persistently_failed_jobs', client.get_persistently_failed_jobs)
    call('get_repos', client.get_repos)
    # a job that has sessions: the one the last day's first session belongs to, else the first job
    job_uid = day[0]['JobUid'] if day and day[0].get('JobUid') else (job_refs[0]['UID'] if job_refs else None)
    if job_uid:
        call('get_backup_sessions', client.get_backup_sessions, guid(job_uid))
    call('logout', client.logout, want_data=False)
    write(out, result)


# ------------------------------------------------------------------------------------------
METRIC_FILES = [  # the package's own conf/metrics/*_metrics.yml, in an order where the per-VM
    'jobs_overview', 'veeam_overview', 'vm_overview', 'repositories', 'backup_servers',  # file
    'backup_agent', 'backup_jobs_sessions', 'vm_backup_jobs_sessions',  # follows the jobs file
]


def run_exporter(url, cert, now, out, work):
    import veeam_exporter
    pkg = os.path.dirname(veeam_exporter.__file__)
    host, port = re.match(r'https://([^:/]+):(\d+)', url).groups()
    os.makedirs(work, exist_ok=True)
    cfg = os.path.join(work, 'exporter.yml')
    metrics = ['%s/conf/metrics/%s_metrics.yml' % (pkg, m) for m in METRIC_FILES]
    with open(cfg, 'w') as f:  # the format of the package's conf/config.yml
        f.write('veeams:\n  - host: %s\n    port: %s\n    user: %s\n    password: %s\n'
                '    protocol: https\n    verify_ssl: %s\n    timeout: 20\n'
                'weblisten:\n  address: 127.0.0.1\n  port: 9247\n'
                'logger:\n  level: debug\n  facility: %s\n'
                'metrics_file:\n%s' % (host, port, USER, PASSWORD, json.dumps(cert),
                                       json.dumps(os.path.join(work, 'exporter.log')),
                                       ''.join('  - %s\n' % json.dumps(m) for m in metrics)))
    argv = ['-c', cfg, '-n', '-v', '-l', 'debug']
    cmd = [sys.executable, os.path.abspath(__file__), 'exporter-cli', now, '--'] + argv
    result = {'client': 'veeam-exporter 1.1.0', 'clock': now,
              'command': 'veeam_exporter ' + ' '.join(argv), 'verify': cert}
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        result.update(exit=None, error='timed out after 180 s')
        return write(out, result)
    with open(os.path.join(work, 'exporter.stdout'), 'w') as f:
        f.write(p.stdout + p.stderr)
    families, samples, problems = {}, {}, []
    for line in p.stdout.splitlines():
        m = re.match(r'veeam_exporter\[\d+\]: level=(\w+) - (.*)$', line)
        if not m:
            continue
        level, msg = m.groups()
        if level in ('ERROR', 'WARNING', 'CRITICAL'):
            problems.append('%s %s' % (level, msg))
        t = re.match(r'# TYPE (\S+) (\S+)$', msg)
        if t:
            families.setdefault(t.group(1), 0)
            continue
        s = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$', msg)
        if s and not msg.startswith('#') and s.group(1).startswith('veeam_em'):
            fam = s.group(1)
            families[fam] = families.get(fam, 0) + 1
            samples.setdefault(fam, '%s%s %s' % (fam, s.group(2) or '', s.group(3)))
    up = [v for k, v in samples.items() if k == 'veeam_em_up']
    result.update(exit=p.returncode, families=families, sample=samples, problems=problems,
                  up=up[0].split()[-1] if up else None,
                  stderr_tail=p.stderr.strip().splitlines()[-3:])
    write(out, result)


def exporter_cli(now, argv):
    """The exporter's own main(), with its to_timestamp filter reading the client clock."""
    import veeam_exporter.filters  # noqa: F401 (the custom filters look this module up)
    import veeam_exporter.veeam_exporter as ve
    if now != 'wall':
        sys.path.append(os.path.join(os.path.dirname(ve.__file__), 'custom_filters'))
        import to_timestamp  # the module Filters.load() imports by this name; cached, so shared
        to_timestamp.datetime = client_clock(now)
    sys.argv = ['veeam_exporter'] + argv
    ve.main()


# ------------------------------------------------------------------------------------------
def upper_first(obj):
    """What veeam-status does since its EM 13 fix: upper-case the first character of every key."""
    if isinstance(obj, dict):
        return {(k[:1].upper() + k[1:]): upper_first(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [upper_first(v) for v in obj]
    return obj


LF_READS = {
    '/api/reports/summary/overview': ['SuccessfulVmLastestStates', 'FailedVmLastestStates'],
    '/api/reports/summary/job_statistics': ['FailedJobRuns', 'TotalJobRuns', 'MaxBackupJobDuration'],
    '/api/reports/summary/vms_overview': ['BackedUpVms', 'ProtectedVms', 'RestorePoints', 'SuccessBackupPercents'],
    '/api/reports/summary/repository': ['Periods'],
}


def run_linuxfabrik(url, cert, out):
    from lib import url as lf_url, veeam as lf_veeam
    result = {'client': 'linuxfabrik-lib 8.2.0 (veeam-status calls)', 'calls': [],
              'tls': 'verified against the minted certificate (SSL_CERT_FILE=%s)' % os.environ.get('SSL_CERT_FILE')}
    args = types.SimpleNamespace(URL=url, USERNAME=USER, PASSWORD=PASSWORD, INSECURE=False,
                                 NO_PROXY=True, PROXY=None, TIMEOUT=3)  # the plugin's timeout
    ok, token = lf_veeam.get_token(args)
    entry = {'call': 'lib.veeam.get_token(): POST /api/sessionMngr/?v=latest (no body)'}
    if not ok:
        entry.update(ok=False, error=str(token))
        result['calls'].append(entry)
        result['logon'] = 'refused'
        result['error'] = str(token)
        return write(out, result)
    entry.update(ok=True, nonempty=nonempty(token.get('response_json')), status=token.get('status_code'),
                 got='X-RestSvcSessionId + ' + summarize(token.get('response_json')))
    result['calls'].append(entry)
    result['logon'] = 'ok'
    header = {'X-RestSvcSessionId': token['X-RestSvcSessionId'], 'Accept': 'application/json'}
    for path, keys in LF_READS.items():
        entry = {'call': 'lib.url.fetch_json(): GET %s' % path}
        ok, body = lf_url.fetch_json(url + path, header=header, insecure=args.INSECURE,
                                     no_proxy=args.NO_PROXY, timeout=args.TIMEOUT)
        if not ok:
            entry.update(ok=False, error=str(body))
            result['calls'].append(entry)
            continue
        body = upper_first(body)
        missing = [k for k in keys if body.get(k) is None]
        read = {k: body.get(k) for k in keys if k != 'Periods'}
        if 'Periods' in keys:
            periods = body.get('Periods') or []
            need = ('Name', 'Capacity', 'FreeSpace', 'BackupSize')
            missing += ['Periods[%d].%s' % (i, k) for i, p in enumerate(periods) for k in need if p.get(k) is None]
            missing += ['Periods[%d].Capacity>0' % i for i, p in enumerate(periods) if not (p.get('Capacity') or 0) > 0]
            read = {'Periods': ['%s: %s%% used' % (p.get('Name'), round(100 * p['BackupSize'] / p['Capacity'], 1))
                                for p in periods if (p.get('Capacity') or 0) > 0 and p.get('BackupSize') is not None]}
            if not periods:
                missing.append('Periods[] (empty)')
        if missing:
            entry.update(ok=False, error='keys missing after upper-casing: %s' % ', '.join(missing), got=read)
        else:
            entry.update(ok=True, nonempty=nonempty(read), got=read)
        result['calls'].append(entry)
    write(out, result)


# ------------------------------------------------------------------------------------------
LOG = re.compile(r'^emtape: (\S+) (\S+) (\S+) -> (\d+)')
IDS = re.compile(r'[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}')
CLIENTS = [('veeam', 'veeam 0.1.5 (PyPI)'), ('exporter', 'veeam-exporter 1.1.0 (PyPI)'),
           ('linuxfabrik', 'Linuxfabrik veeam-status via linuxfabrik-lib 8.2.0')]


def requests_of(path):
    out = []
    if os.path.exists(path):
        for line in open(path):
            m = LOG.match(line)
            if m:
                out.append((m.group(1), m.group(2), int(m.group(4))))
    return out


def judge(kind, release, res, reqs, info):
    """(cell, detail, failed)"""
    versions = info.get('versions', [])
    if res is None:
        return 'FAIL', 'no result written (the driver crashed; see its stderr above)', True
    if kind == 'veeam':
        if res.get('logon') == 'refused':
            if 'v1_4' not in versions:
                return ('REFUSED-BY-VERSION', 'expected: the release lists %s, the client asks v1_4; %s'
                        % (','.join(versions), res.get('error')), False)
            return 'FAIL', 'logon refused although v1_4 is listed: %s' % res.get('error'), True
        if 'v1_4' not in versions:
            return 'FAIL', 'logon with v1_4 accepted although the release lists only %s' % ','.join(versions), True
    if kind in ('veeam', 'linuxfabrik'):
        if res.get('logon') == 'refused':
            return 'FAIL', res.get('error'), True
        calls = res['calls']
        bad = [c for c in calls if not c.get('ok')]
        data = [c for c in calls if c.get('nonempty')]
        counted = [c for c in calls if c.get('nonempty') is not None or not c.get('ok')]
        empty = [c['call'] for c in calls if c.get('ok') and c.get('nonempty') is False]
        cell = '%s %d/%d' % ('FAIL' if bad or not data else 'PASS', len(data), len(counted))
        detail = '; '.join('%s: %s' % (c['call'], c.get('error')) for c in bad)
        if empty:
            detail += ('; ' if detail else '') + 'empty answers: ' + ', '.join(empty)
            if res.get('clock') == 'wall':
                detail += ' (wall clock: no session of the estate is in the client\'s "last 24 h")'
        return cell, detail, bool(bad or not data)
    # exporter
    logon = [q for q in reqs if q[0] == 'POST' and q[1].startswith('/api/sessionMngr/')]
    keys = info.get('logon_keys', [])
    if (res.get('up') in ('0.0', '0') and info.get('camel_json') and logon and logon[-1][2] == 201
            and 'SessionId' not in keys and 'sessionId' in keys):
        # core_exporter.ns_session_login() accepts the logon only if 'SessionId' in login.json(); EM 13
        # answers camelCase ('sessionId'), so it never counts as logged on (and its metric files
        # read PascalCase keys too). A property of the client against EM 13, not of the mock.
        return ('INCOMPATIBLE (expected)', 'expected: logon answered 201, but the body says "sessionId" (EM 13 camelCase JSON) '
                'and the exporter only accepts a body with "SessionId": it reports veeam_em_up 0 and stops', False)
    if res.get('exit') != 0 or res.get('up') not in ('1.0', '1'):
        return 'FAIL', 'exit %s, veeam_em_up %s; %s' % (res.get('exit'), res.get('up'),
                                                          ' | '.join((res.get('problems') or [])[:3] + (res.get('stderr_tail') or []))), True
    fams = res.get('families', {})
    full = [f for f, n in fams.items() if n > 0 and f != 'veeam_em_up']
    gets = [r for r in reqs if r[0] == 'GET']
    got = [r for r in gets if r[2] < 300]
    problems = res.get('problems') or []
    failed = bool(problems) or not full or len(got) < len(gets)
    cell = '%s %d/%d' % ('FAIL' if failed else 'PASS', len(got), len(gets))
    detail = '%d of %d metric families with samples' % (len(full), len([f for f in fams if f != 'veeam_em_up']))
    for m, path, st in gets:
        if st >= 300:
            ids = IDS.findall(path)
            what = info.get('sessions', {}).get(ids[0]) if ids else None
            detail += '; %s %s -> %d%s' % (m, path, st, ' (session %s)' % what if what else '')
    for p in problems:
        said = re.search(r'"Message":"(.*?)(\\n|",)', p)
        detail += '; exporter logged %s' % (p.split(':')[0] + ': ' + said.group(1) if said else p[:200])
    return cell, detail, failed


def report(work, releases, show):
    releases = releases.split()
    grid, notes, failed_any = {}, [], False
    for r in releases:
        info = {}
        p = os.path.join(work, r, 'probe.json')
        if os.path.exists(p):
            info = json.load(open(p))
        for kind, _ in CLIENTS:
            rp = os.path.join(work, r, kind + '.json')
            res = json.load(open(rp)) if os.path.exists(rp) else None
            reqs = requests_of(os.path.join(work, r, kind + '.log'))
            cell, detail, failed = judge(kind, r, res, reqs, info)
            if os.path.exists(os.path.join(work, r, 'server-failed')):
                cell, detail, failed = 'FAIL', open(os.path.join(work, r, 'server-failed')).read().strip(), True
            grid[(kind, r)] = cell
            failed_any |= failed
            if detail:
                notes.append('  %-11s %-4s %s' % (kind, r, detail))
    w = max(len(c) for c in grid.values()) + 2
    print('\nclient x release (PASS a/b: a of b calls answered with non-empty data, logout not counted;'
          ' exporter: a of b GETs answered 2xx)')
    print('%-52s' % 'client' + ''.join('%-*s' % (w, r) for r in releases))
    for kind, label in CLIENTS:
        print('%-52s' % label + ''.join('%-*s' % (w, grid[(kind, r)]) for r in releases))
    if notes:
        print('\nnotes:')
        print('\n'.join(notes))

    print('\nper-call detail, release %s:' % show)
    for kind, label in CLIENTS:
        rp = os.path.join(work, show, kind + '.json')
        if not os.path.exists(rp):
            continue
        res = json.load(open(rp))
        print('  %s' % label)
        for c in res.get('calls', []):
            mark = 'ok   ' if c.get('ok') and c.get('nonempty') is not False else ('EMPTY' if c.get('ok') else 'ERROR')
            print('    %s %-62s %s' % (mark, c['call'][:62], c.get('error') or c.get('got')))
        if kind == 'exporter':
            for fam, n in sorted(res.get('families', {}).items()):
                print('    %-5s %-45s %3d sample(s)  e.g. %s' % ('ok' if n else 'EMPTY', fam, n, (res.get('sample', {}).get(fam) or '')[:90]))
            print('    command: %s (dry mode; TLS verify_ssl: %s)' % (res.get('command'), res.get('verify')))
        if res.get('tls'):
            print('    TLS: %s' % res['tls'])
        if res.get('clock') and res.get('clock') != 'wall':
            print('    client clock: %s' % res['clock'])

    print('\nrequests each client made, release %s (from emtape serve -v; ids shown as {id}):' % show)
    for kind, label in CLIENTS:
        reqs = requests_of(os.path.join(work, show, kind + '.log'))
        print('  %s: %d request(s)' % (label, len(reqs)))
        seen = {}
        for m, path, st in reqs:
            key = '%s %s -> %d' % (m, IDS.sub('{id}', path), st)
            seen[key] = seen.get(key, 0) + 1
        for key, n in seen.items():
            print('    %s%s' % (key, '  (x%d)' % n if n > 1 else ''))
    print('\nLinuxfabrik: this replays the veeam-status plugin\'s calls through its library (lib.veeam.get_token,')
    print('lib.url.fetch_json) and reads the keys the plugin reads; the plugin file itself is not on PyPI.')
    return 1 if failed_any else 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'probe':
        probe(*args)
    elif cmd == 'veeam':
        run_veeam(*args)
    elif cmd == 'exporter':
        run_exporter(*args)
    elif cmd == 'exporter-cli':
        exporter_cli(args[0], args[2:] if args[1:2] == ['--'] else args[1:])
    elif cmd == 'linuxfabrik':
        run_linuxfabrik(*args)
    elif cmd == 'report':
        sys.exit(report(*args))
    else:
        sys.exit('unknown command %s' % cmd)


if __name__ == '__main__':
    main()
