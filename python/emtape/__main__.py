"""`python -m emtape ARGS`: the `emtape` binary, as if it had been called."""

import os
import subprocess
import sys

from ._server import EmtapeError, find_emtape_bin


def main() -> int:
    try:
        binary = find_emtape_bin()
    except EmtapeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if sys.platform == "win32":
        return subprocess.call([binary, *sys.argv[1:]])
    os.execv(binary, [binary, *sys.argv[1:]])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
