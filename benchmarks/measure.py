"""Run one command; print its wall time, exit code and peak RSS as one JSON line.

    python benchmarks/measure.py LOG -- COMMAND [ARG...]

The command's stdout and stderr are appended to LOG. The peak RSS is
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` read after the command was reaped: the largest resident
set of the command or of any descendant it reaped itself (on Linux, in KiB). This wrapper is a
separate process so that its own memory, and the benchmark driver's, are never counted.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: measure.py LOG -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    log, command = Path(argv[0]), list(argv[2:])
    with log.open("ab") as output:
        start = time.perf_counter()
        returncode = subprocess.call(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
        )
        seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": seconds, "returncode": returncode, "maxrss_kb": usage.ru_maxrss}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
