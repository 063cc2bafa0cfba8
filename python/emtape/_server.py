"""Running `emtape serve` and `emtape record` from Python: find the binary, start it on a free
port, read its address from its first line, talk to its admin endpoints, stop it."""

from __future__ import annotations

import json
import os
import queue
import shutil
import ssl
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from typing import Dict, Iterable, List, Optional, Sequence

#: The releases the binary carries on tape, oldest first.
RELEASES = ("9.5", "10", "11", "12", "13")


class EmtapeError(Exception):
    """emtape could not do what was asked; the message is emtape's own (file, line, why)."""


def find_emtape_bin() -> str:
    """The `emtape` binary: `EMTAPE_BIN` if set, else the one installed with this package
    (the environment's scripts directory, the user's), else the first on PATH."""
    given = os.environ.get("EMTAPE_BIN")
    if given:
        if os.path.isfile(given):
            return given
        raise EmtapeError(f"EMTAPE_BIN is {given!r}, which is not a file")
    exe = "emtape" + (sysconfig.get_config_var("EXE") or "")
    places = [sysconfig.get_path("scripts"), os.path.dirname(sys.executable)]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        places.append(sysconfig.get_path("scripts", scheme=user_scheme))
    for place in places:
        candidate = os.path.join(place, exe)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(exe)
    if found:
        return found
    raise EmtapeError("no emtape binary found: `pip install emtape`, or set EMTAPE_BIN to one")


class _Process:
    """An emtape command that serves until stopped and says `listening on URL` first."""

    def __init__(self, args: Sequence[str], cwd: Optional[str], start_timeout: float):
        self.args = list(args)
        self.cwd = cwd
        self.start_timeout = start_timeout
        self.url: Optional[str] = None
        self.returncode: Optional[int] = None
        self._proc: Optional[subprocess.Popen] = None
        self._out: List[str] = []
        self._err: List[str] = []
        self._pumps: List[threading.Thread] = []

    def _pump(self, stream, into: List[str], lines: Optional[queue.Queue]) -> None:
        for line in stream:
            into.append(line)
            if lines is not None:
                lines.put(line)
        if lines is not None:
            lines.put(None)

    def _start(self) -> None:
        self._out, self._err = [], []
        self._proc = subprocess.Popen(
            [find_emtape_bin(), *self.args],
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        lines: queue.Queue = queue.Queue()
        self._pumps = [
            threading.Thread(target=self._pump, args=(self._proc.stdout, self._out, lines), daemon=True),
            threading.Thread(target=self._pump, args=(self._proc.stderr, self._err, None), daemon=True),
        ]
        for pump in self._pumps:
            pump.start()
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._halt()
                raise EmtapeError(
                    f"`emtape {' '.join(self.args)}` did not start within {self.start_timeout:.0f} s{self._said()}"
                ) from None
            if line is None:
                self._halt()
                raise EmtapeError(self._said(lead="") or f"`emtape {' '.join(self.args)}` exited with {self.returncode}")
            if line.startswith("listening on "):
                self.url = line.split()[2]
                return

    def _said(self, lead: str = ": ") -> str:
        text = "".join(self._err).strip()
        return f"{lead}{text}" if text else ""

    def _halt(self, timeout: float = 15.0) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pump in self._pumps:
            pump.join(timeout=5)
        self.returncode = proc.returncode
        self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def stdout(self) -> str:
        return "".join(self._out)

    @property
    def stderr(self) -> str:
        return "".join(self._err)


class Verdict:
    """A client check's verdict: `passed`, the terminal's `text`, the JSON `report`."""

    def __init__(self, report: dict, text: str):
        self.report = report
        self.text = text
        self.passed = bool(report.get("passed"))

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"Verdict(passed={self.passed})"


class Server(_Process):
    """`emtape serve` on a free port of 127.0.0.1: the built-in EM (the reference release), a
    `release` on tape, or `cassettes`. With `scenario` it checks its clients (`verdict()`);
    `tls` serves HTTPS with a minted certificate whose PEM is `ca`.

        with Server(release="12", scenario="vm-restore") as em:
            my_client.restore(em.url, ca=em.ca)
            assert em.verdict(), em.verdict().text
    """

    def __init__(
        self,
        cassettes: Iterable[str] = (),
        *,
        release: Optional[str] = None,
        scenario: Optional[str] = None,
        tls: bool = False,
        vars: Optional[Dict[str, str]] = None,
        args: Sequence[str] = (),
        port: int = 0,
        coverage: bool = True,
        cwd: Optional[str] = None,
        start_timeout: float = 30.0,
    ):
        super().__init__([], cwd, start_timeout)
        self.cassettes = [str(c) for c in cassettes]
        self.release = release
        self.scenario = scenario
        self.tls = tls
        self.vars = dict(vars or {})
        self.extra = list(args)
        self.port = port
        self.coverage_on = coverage
        self.ca: Optional[str] = None
        self._dir: Optional[tempfile.TemporaryDirectory] = None
        self._verdict: Optional[Verdict] = None

    def _arguments(self, port: int) -> List[str]:
        assert self._dir is not None
        args = ["serve", "--listen", f"127.0.0.1:{port}", *self.cassettes]
        if self.release:
            args += ["--release", str(self.release)]
        if self.tls:
            self.ca = os.path.join(self._dir.name, "emtape-ca.pem")
            args += ["--tls", "--tls-cert-out", self.ca]
        if self.scenario:
            args += ["--scenario", str(self.scenario)]
        for name, value in self.vars.items():
            args += ["--var", f"{name}={value}"]
        if self.coverage_on:
            args += ["--coverage-json", os.path.join(self._dir.name, "coverage.json")]
        return args + self.extra

    def start(self) -> "Server":
        self._dir = tempfile.TemporaryDirectory(prefix="emtape-")
        self.args = self._arguments(self.port)
        try:
            self._start()
        except EmtapeError as e:
            if self.port == 0 or "cannot listen" not in str(e):
                self._cleanup()
                raise
            warnings.warn(f"emtape: port {self.port} is taken ({e}); serving on a free port instead", stacklevel=2)
            self.args = self._arguments(0)
            try:
                self._start()
            except EmtapeError:
                self._cleanup()
                raise
        return self

    def _cleanup(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def _admin(self, method: str, path: str, accept: str = "application/json") -> str:
        if self.url is None:
            raise EmtapeError("the server is not running")
        context = ssl.create_default_context(cafile=self.ca) if self.ca else None
        request = urllib.request.Request(self.url + path, method=method, headers={"Accept": accept})
        try:
            with urllib.request.urlopen(request, context=context, timeout=30) as answer:
                return answer.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            raise EmtapeError(f"{method} {path}: {e.code} {e.read().decode('utf-8', 'replace').strip()}") from None

    def report(self) -> dict:
        """The client check's report so far (needs `scenario`)."""
        return json.loads(self._admin("GET", "/__emtape/report"))

    def verdict(self) -> Verdict:
        """The client check's verdict, the client being done: sessions still open end as the
        client exiting without logging out (needs `scenario`). Taken once; later calls repeat it."""
        if self._verdict is None:
            report = json.loads(self._admin("POST", "/__emtape/finish"))
            text = self._admin("GET", "/__emtape/report", accept="text/plain")
            self._verdict = Verdict(report, text)
        return self._verdict

    def coverage(self) -> Optional[dict]:
        """What the requests so far exercised of the served surface, as `--coverage-json` writes it."""
        if not self.coverage_on:
            return None
        return json.loads(self._admin("GET", "/__emtape/coverage"))

    def reset(self) -> None:
        """Forgets every session and task (and the client check's sessions)."""
        self._admin("POST", "/__emtape/reset")

    def stop(self) -> None:
        self._halt()
        self.url = None
        self._cleanup()

    def __enter__(self) -> "Server":
        return self.start() if self.url is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


class Recorder(_Process):
    """`emtape record`: a proxy on a free port of 127.0.0.1 in front of `upstream`, writing the
    exchanges to the cassette `out` when stopped (secrets redacted, hosts replaced)."""

    def __init__(
        self,
        out: str,
        *,
        upstream: str,
        upstream_ca: Optional[str] = None,
        insecure_upstream: bool = False,
        args: Sequence[str] = (),
        cwd: Optional[str] = None,
        start_timeout: float = 30.0,
    ):
        command = ["record", "--upstream", upstream, "--out", str(out), "--listen", "127.0.0.1:0"]
        if upstream_ca:
            command += ["--upstream-ca", upstream_ca]
        if insecure_upstream:
            command += ["--insecure-upstream"]
        super().__init__(command + list(args), cwd, start_timeout)
        self.out = str(out)
        self.ca: Optional[str] = None

    def start(self) -> "Recorder":
        parent = os.path.dirname(os.path.abspath(self.out))
        os.makedirs(parent, exist_ok=True)
        self._start()
        return self

    def stop(self) -> None:
        """Stops the proxy; the cassette is written. A failure says emtape's reason."""
        self._halt()
        self.url = None
        if self.returncode not in (0, None):
            raise EmtapeError(f"emtape record exited with {self.returncode}{self._said()}")

    def __enter__(self) -> "Recorder":
        return self.start() if self.url is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
