"""Stopping a process group: SIGTERM, a grace period, then SIGKILL for whatever is left."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from conftest import is_gone
from recovery_plugin.procgroup import signal_process_group, stop_process_group

# A leader that exits on SIGTERM, and a child of it that ignores SIGTERM.
STUBBORN = textwrap.dedent(
    """
    import json, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
    print(json.dumps({"child": child.pid}), flush=True)
    time.sleep(60)
    """
)


def _wait_gone(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not is_gone(pid):
        time.sleep(0.02)
    return is_gone(pid)


def test_stop_kills_the_leader_and_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None
    child = json.loads(proc.stdout.readline())["child"]

    stop_process_group(proc, grace_s=0.5)

    assert proc.returncode is not None
    assert _wait_gone(child)
    proc.stdout.close()


def test_stopping_a_group_that_is_already_gone_is_not_an_error() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    proc.wait(10)

    stop_process_group(proc, grace_s=0.1)
    signal_process_group(proc.pid, signal.SIGTERM)

    assert proc.returncode == 0
