"""Run one command; print its wall time, CPU time, exit code and peak RSS as one JSON line.

    python benchmarks/measure.py LOG -- COMMAND [ARG...]

The command's stdout and stderr are appended to LOG. The peak RSS is
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` read after the command was reaped: the largest resident
set of the command or of any descendant it reaped itself (on Linux, in KiB). This wrapper is a
separate process so that its own memory, and the benchmark driver's, are never counted. The CPU
time is the user + system seconds of the same reaped tree (``ru_utime + ru_stime``). With
``--timeout S`` the command's process group is killed after S seconds (``"timed_out": true``).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str]) -> int:
    timeout: float | None = None
    if argv[:1] == ["--timeout"]:
        timeout, argv = float(argv[1]), argv[2:]
    if len(argv) < 3 or argv[1] != "--":
        print("usage: measure.py [--timeout S] LOG -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    log, command = Path(argv[0]), list(argv[2:])
    timed_out = False
    with log.open("ab") as output:
        start = time.perf_counter()
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            returncode = proc.wait()
        seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "seconds": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "returncode": returncode,
        "maxrss_kb": usage.ru_maxrss,
        "timed_out": timed_out,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
