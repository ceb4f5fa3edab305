"""The ``hang`` fault of the commands: leave a child process behind and never finish."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

from recovery_plugin.atomic import write_json_atomic

__all__ = ["hang_forever"]

CHILD_ARGV = (sys.executable, "-c", "import time; time.sleep(3600)")


def hang_forever(pid_file: Path) -> NoReturn:
    """Spawn a sleeping child (same process group), record both pids in ``pid_file``, sleep forever.

    A harness that kills only this process leaves the child behind; killing the process group
    (or the session) ends both, which is what the hang tests check through ``pid_file``.
    """
    print(f"[sim] hang fault: sleeping forever (pids in {pid_file})", flush=True)
    child = subprocess.Popen(CHILD_ARGV, stdin=subprocess.DEVNULL)  # noqa: S603 - fixed argv
    write_json_atomic(pid_file, {"pid": os.getpid(), "child_pid": child.pid})
    while True:
        time.sleep(3600)
