"""Stopping a subprocess started with ``start_new_session=True`` together with its whole group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import Any

__all__ = ["signal_process_group", "stop_process_group"]


def signal_process_group(pgid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to process group ``pgid``; a group that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_process_group(proc: subprocess.Popen[Any], grace_s: float) -> None:
    """SIGTERM the group led by ``proc``, wait ``grace_s`` for the leader, then SIGKILL the group.

    The SIGKILL is sent even when the leader exited in time: members that ignored SIGTERM (or
    outlived the leader) must not survive. Returns once the leader is reaped.
    """
    signal_process_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace_s)
    signal_process_group(proc.pid, signal.SIGKILL)
    proc.wait()
