"""The pytest plugin: a mock Veeam Backup Enterprise Manager for the client under test.

    @pytest.mark.emtape(releases="all", scenario="vm-restore")
    def test_restore(em):
        my_client.restore(em.url, ca=em.ca)

`em` is an `emtape.Server` started for the test (the marker says which release, cassettes, TLS,
scenario) and stopped after it; `em_session` is one built-in EM for the whole session. With a
`scenario`, the test fails with the client check's verdict when the client did not meet the
contract. `releases="all"` (or a list) runs the test once per release. `record=True` gives the
test a cassette of its own (`cassettes/<module>/<test>.yaml` beside the test file) that
`--emtape-record` fills from `--emtape-upstream`: `none` replays it (the default), `new` records it
if it is missing, `all` records it again.
"""

from __future__ import annotations

import os
import re
from typing import Dict, List, Optional

import pytest

from ._server import RELEASES, EmtapeError, Recorder, Server

_MODES = ("none", "new", "all")
_SERVERS = pytest.StashKey[List[dict]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("emtape", "emtape: a mock Veeam Backup Enterprise Manager")
    group.addoption(
        "--emtape-record",
        choices=_MODES,
        default=None,
        help="what tests marked emtape(record=True) do with their cassettes: none (replay only, "
        "the default), new (record the missing ones), all (record every one again)",
    )
    group.addoption("--emtape-upstream", default=None, help="the real EM to record from, like https://em:9398")
    group.addoption("--emtape-upstream-ca", default=None, help="CA certificate (PEM) to trust for the upstream")
    group.addoption(
        "--emtape-no-coverage", action="store_true", help="leave the coverage map out of the terminal summary"
    )
    parser.addini("emtape_record", "the default of --emtape-record", default="none")
    parser.addini("emtape_cassettes", "the folder of recorded cassettes, beside each test file", default="cassettes")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "emtape(release=None, releases=None, cassettes=(), scenario=None, tls=False, vars=None, args=(), "
        "port=0, record=False): how the `em` fixture's mock EM is set up; releases='all' runs the test "
        "once per release; scenario='vm-restore' fails the test when the client does not meet it",
    )
    config.stash[_SERVERS] = []


def _marker(node) -> Dict:
    mark = node.get_closest_marker("emtape")
    return dict(mark.kwargs) if mark else {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    releases = _marker(metafunc.definition).get("releases")
    if releases is None or "em" not in metafunc.fixturenames:
        return
    if releases == "all":
        releases = list(RELEASES)
    elif isinstance(releases, str):
        releases = [releases]
    unknown = [r for r in releases if str(r) not in RELEASES]
    if unknown:
        raise pytest.UsageError(f"emtape: no release {unknown[0]!r} on tape; there are {', '.join(RELEASES)}")
    metafunc.parametrize("em", [str(r) for r in releases], indirect=True, ids=[f"em-{r}" for r in releases])


def _record_mode(config: pytest.Config) -> str:
    mode = config.getoption("--emtape-record") or config.getini("emtape_record")
    if mode not in _MODES:
        raise pytest.UsageError(f"emtape_record = {mode!r}: use one of {', '.join(_MODES)}")
    return mode


def _own_cassette(request: pytest.FixtureRequest) -> str:
    folder = os.path.join(os.path.dirname(str(request.node.path)), request.config.getini("emtape_cassettes"))
    module = request.node.module.__name__.rsplit(".", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name).strip("-")
    return os.path.join(folder, module, f"{name}.yaml")


class _Recording:
    """What a test in a record mode talks to: the recording proxy (`url`), no verdict."""

    def __init__(self, recorder: Recorder, cassette: str):
        self.recorder = recorder
        self.cassette = cassette
        self.url = recorder.url
        self.ca = None
        self.scenario = None
        self.recording = True


@pytest.fixture
def em(request: pytest.FixtureRequest):
    """A mock EM for this test (see the `emtape` marker), stopped after it."""
    options = _marker(request.node)
    release = getattr(request, "param", None) or options.get("release")
    cassettes = list(options.get("cassettes", ()))
    if options.get("record"):
        cassette = _own_cassette(request)
        mode = _record_mode(request.config)
        if mode == "all" or (mode == "new" and not os.path.exists(cassette)):
            upstream = request.config.getoption("--emtape-upstream") or os.environ.get("EMTAPE_UPSTREAM")
            if not upstream:
                pytest.fail(f"emtape: --emtape-record={mode} needs --emtape-upstream URL (the EM to record)", pytrace=False)
            recorder = Recorder(
                cassette, upstream=upstream, upstream_ca=request.config.getoption("--emtape-upstream-ca")
            )
            try:
                recorder.start()
            except EmtapeError as e:
                pytest.fail(f"emtape: {e}", pytrace=False)
            yield _Recording(recorder, cassette)
            recorder.stop()
            return
        if not os.path.exists(cassette):
            pytest.fail(
                f"emtape: no cassette {cassette}: record it with --emtape-record=new --emtape-upstream URL",
                pytrace=False,
            )
        cassettes.append(cassette)
    server = Server(
        cassettes,
        release=release,
        scenario=options.get("scenario"),
        tls=bool(options.get("tls")),
        vars=options.get("vars"),
        args=options.get("args", ()),
        port=int(options.get("port", 0)),
        cwd=str(request.config.rootpath),
    )
    yield from _serving(request.config, server)


@pytest.fixture(scope="session")
def em_session(request: pytest.FixtureRequest):
    """One built-in mock EM (the reference release) for the whole session."""
    server = Server(cwd=str(request.config.rootpath))
    yield from _serving(request.config, server)


def _serving(config: pytest.Config, server: Server):
    """Starts the server (failing the test with emtape's words if it cannot), yields it, keeps its
    coverage and stops it."""
    try:
        server.start()
    except EmtapeError as e:
        pytest.fail(f"emtape: {e}", pytrace=False)
    try:
        yield server
    finally:
        _keep_coverage(config, server)
        server.stop()


def _keep_coverage(config: pytest.Config, server: Server) -> None:
    try:
        coverage = server.coverage() if server.running else None
    except EmtapeError:
        coverage = None
    if coverage:
        config.stash[_SERVERS].append(coverage)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    server = getattr(item, "funcargs", {}).get("em")
    if isinstance(server, Server) and server.scenario and server.running:
        verdict = server.verdict()
        if not verdict.passed:
            pytest.fail(f"the client did not meet the contract:\n{verdict.text}", pytrace=False)
    return result


def _merged(coverages: List[dict]) -> Optional[dict]:
    if not coverages:
        return None
    dimensions: Dict[str, Dict[str, List[int]]] = {}
    for c in coverages:
        for d in c["dimensions"]:
            items = dimensions.setdefault(d["name"], {})
            for i in d["items"]:
                served_used = items.setdefault(i["name"], [0, 0])
                served_used[0] = max(served_used[0], i["served"])
                served_used[1] += i["used"]
    return {"requests": sum(c["requests"] for c in coverages), "dimensions": dimensions}


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if config.getoption("--emtape-no-coverage"):
        return
    merged = _merged(config.stash.get(_SERVERS, []))
    if merged is None:
        return
    n = len(config.stash[_SERVERS])
    terminalreporter.section("emtape coverage")
    terminalreporter.write_line(
        f"what {n} mock EM{'s' if n != 1 else ''} served, {merged['requests']} requests exercised:"
    )
    for name, items in merged["dimensions"].items():
        served = [k for k, (s, _) in items.items() if s > 0]
        used = sorted(((u, k) for k, (s, u) in items.items() if s > 0 and u > 0), reverse=True)
        share = 100.0 * len(used) / len(served) if served else 0.0
        top = ", ".join(f"{k} {u}" for u, k in used[:6]) or "none used"
        more = f", {len(used) - 6} more" if len(used) > 6 else ""
        terminalreporter.write_line(f"  {name:<18} {len(used):>3} of {len(served):<4} ({share:5.1f}%)  {top}{more}")
