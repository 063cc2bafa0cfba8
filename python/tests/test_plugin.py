"""The plugin's own tests: inner test files run by pytester against the installed emtape
(`.ci/run` installs the wheel into a fresh venv and runs these with its pytest)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import emtape

# The README's client: restores the newest point of ubuntu88 by following EM's links.
CLIENT = '''
import time, xml.etree.ElementTree as ET
import pytest, requests

NS = "{http://www.veeam.com/ent/v1.0}"

def link(doc, rel, kind=None):
    return next(l.get("Href") for l in doc.iter(NS + "Link") if l.get("Rel") == rel and kind in (None, l.get("Type")))

def restore(url, ca=None, poll=True):
    s = requests.Session()
    call = lambda method, href, **kw: s.request(method, href, verify=ca or True, **kw)  # per call: REQUESTS_CA_BUNDLE beats s.verify
    get = lambda href: ET.fromstring(call("GET", href).content)
    logon = call("POST", link(get(url + "/api/"), "Create", "LogonSession"), auth=("restore", "secret"))
    s.headers["X-RestSvcSessionId"] = logon.headers["X-RestSvcSessionId"]
    session = ET.fromstring(logon.content)
    points = [r for r in get(link(session, "Down", "VmRestorePointReferenceList")).iter(NS + "Ref")]
    newest = max((r for r in points if r.get("Name").startswith("ubuntu88@")), key=lambda r: r.get("Name"))
    point = get(link(newest, "Alternate", "VmRestorePoint"))
    task = ET.fromstring(call("POST", link(point, "Restore")).content)
    while poll and task.find(NS + "State").text == "Running":
        time.sleep(0.25)
        task = get(task.get("Href"))
    if poll:
        get(link(task, "Related", "RestoreSession"))
    call("DELETE", link(session, "Delete"))
'''


def test_a_client_that_follows_the_flow_passes_on_every_release(pytester):
    pytester.makepyfile(
        CLIENT
        + '''
@pytest.mark.emtape(releases="all", scenario="vm-restore")
def test_restore(em):
    restore(em.url)
'''
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*test_restore?em-9.5? PASSED*", "*test_restore?em-13? PASSED*"])
    result.stdout.fnmatch_lines(["*emtape coverage*", "*resource types*"])


def test_the_readme_example_passes_on_every_release(pytester):
    example = Path(__file__).resolve().parents[2] / "examples" / "test_em_restore.py"
    pytester.makepyfile(test_em_restore=example.read_text())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*test_restore_the_newest_point?em-9.5? PASSED*"])


def test_a_client_that_never_polls_fails_with_the_verdicts_text(pytester):
    pytester.makepyfile(
        CLIENT
        + '''
@pytest.mark.emtape(release="12", scenario="vm-restore")
def test_restore_without_polling(em):
    restore(em.url, poll=False)
'''
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the client did not meet the contract*",
            "*did not perform step `wait for the restore task`*",
            "*FAILED: 0 of 1 sessions met the contract*",
        ]
    )


def test_a_pinned_vm_is_the_contract_and_tls_is_trusted_through_the_ca(pytester):
    pytester.makepyfile(
        CLIENT
        + '''
@pytest.mark.emtape(scenario="vm-restore", tls=True, vars={"vm": "oracle03"})
def test_restore_the_wrong_vm(em):
    assert em.url.startswith("https://") and em.ca
    restore(em.url, ca=em.ca)
'''
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*it pins vm=oracle03*"])


def test_record_mode_new_writes_a_cassette_that_replays(pytester):
    pytester.makepyfile(
        test_recorded=CLIENT
        + '''
@pytest.mark.emtape(record=True)
def test_recorded_restore(em):
    restore(em.url)
'''
    )
    cassette = pytester.path / "cassettes" / "test_recorded" / "test_recorded_restore.yaml"
    missing = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    missing.assert_outcomes(errors=1)
    missing.stdout.fnmatch_lines(["*no cassette*test_recorded_restore.yaml: record it with --emtape-record=new*"])
    with emtape.Server() as upstream:
        recorded = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--emtape-record=new", f"--emtape-upstream={upstream.url}")
        recorded.assert_outcomes(passed=1)
    assert cassette.exists()
    text = cassette.read_text()
    assert "X-RestSvcSessionId" in text and "vmRestorePoints" in text
    # The upstream is gone: the test replays its cassette.
    replayed = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    replayed.assert_outcomes(passed=1)
    # Mode new leaves a cassette that exists alone.
    again = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--emtape-record=new", "--emtape-upstream=http://127.0.0.1:9")
    again.assert_outcomes(passed=1)
    assert cassette.read_text() == text


def test_a_missing_cassette_fails_at_setup_with_emtapes_own_error(pytester):
    pytester.makepyfile(
        '''
import pytest

@pytest.mark.emtape(cassettes=["nowhere/em.yaml"])
def test_needs_a_cassette(em):
    pass
'''
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*emtape: *nowhere/em.yaml*"])


def test_a_broken_cassette_names_its_line(pytester):
    (pytester.path / "broken.yaml").write_text("exchanges:\n- request: [unclosed\n")
    pytester.makepyfile(
        '''
import pytest

@pytest.mark.emtape(cassettes=["broken.yaml"])
def test_needs_a_cassette(em):
    pass
'''
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*broken.yaml:*"])


def test_a_port_in_use_is_retried_on_another(pytester):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        pytester.makepyfile(
            f'''
import pytest, requests

@pytest.mark.emtape(port={port})
def test_served_elsewhere(em):
    assert not em.url.endswith(":{port}")
    assert requests.get(em.url + "/api/").status_code == 200
'''
        )
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "default")
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines([f"*port {port} is taken*"])
    finally:
        taken.close()


def test_the_session_fixture_is_one_server(pytester):
    pytester.makepyfile(
        '''
import requests

URLS = set()

def test_one(em_session):
    URLS.add(em_session.url)
    assert requests.get(em_session.url + "/api/").status_code == 200

def test_two(em_session):
    URLS.add(em_session.url)
    assert len(URLS) == 1
'''
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_python_m_emtape_is_the_binary():
    out = subprocess.run([sys.executable, "-m", "emtape", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("emtape "), out.stdout
    wrong = subprocess.run([sys.executable, "-m", "emtape", "--no-such-flag"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "--no-such-flag" in wrong.stderr
    assert os.path.basename(emtape.find_emtape_bin()).startswith("emtape")


def test_a_vbr_rest_revision_is_served_to_a_test(pytester):
    pytester.makepyfile(
        '''
import pytest, requests

@pytest.mark.emtape(release="vbr-1.3-rev1")
def test_restore_points_of_a_vm(em):
    h = {"x-api-version": "1.3-rev1"}
    form = {"grant_type": "password", "username": "TECH\\\\restore", "password": "secret"}
    token = requests.post(em.url + "/api/oauth2/token", data=form, headers=h).json()["access_token"]
    h["Authorization"] = "Bearer " + token
    points = requests.get(em.url + "/api/v1/restorePoints", params={"nameFilter": "sql01"}, headers=h).json()
    assert points["pagination"]["total"] == 7
    assert requests.get(em.url + "/api/v1/restorePoints", headers={"x-api-version": "1.2-rev1"}).status_code == 400
'''
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
