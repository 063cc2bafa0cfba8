"""emtape from Python: the `emtape` binary (record, serve, run, diff, matrix) and helpers to run
it from tests. The pytest plugin (`emtape.pytest_plugin`) is registered by the package."""

from ._server import RELEASES, EmtapeError, Recorder, Server, find_emtape_bin

__all__ = ["RELEASES", "EmtapeError", "Recorder", "Server", "find_emtape_bin"]
