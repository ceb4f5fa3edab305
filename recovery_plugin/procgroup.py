"""Stopping a subprocess started with ``start_new_session=True``: its whole group, and the
descendants that left the group (``setsid``), found by an environment marker and ``/proc``."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable

__all__ = [
    "become_subreaper",
    "find_descendants",
    "group_exists",
    "process_exists",
    "signal_process_group",
    "stop_descendants",
    "stop_process_group",
]


def process_exists(pid: int) -> bool:
    """A process ``pid`` exists (perhaps another user's, perhaps a zombie)."""
    return _answers_signal_zero(os.kill, pid)


def group_exists(pgid: int) -> bool:
    """A process of group ``pgid`` exists (perhaps another user's, perhaps a zombie)."""
    return _answers_signal_zero(os.killpg, pgid)


def _answers_signal_zero(send: Callable[[int, int], None], target: int) -> bool:
    try:
        send(target, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    return True


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
    import subprocess  # the caller has imported it already: it started the process

    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace_s)
    signal_process_group(proc.pid, signal.SIGKILL)
    proc.wait()
    _wait_members_gone(proc.pid, max(grace_s, 1.0))


# --- descendants that left the group ---------------------------------------------------------

_PR_SET_CHILD_SUBREAPER = 36
_PROC = Path("/proc")
_subreaper_tried = False


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process rather than PID 1 (Linux only).

    Called once per process; a platform without ``prctl`` answers False and the environment
    marker alone finds the descendants.
    """
    global _subreaper_tried
    if _subreaper_tried or not sys.platform.startswith("linux"):
        return _subreaper_tried
    _subreaper_tried = True
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def find_descendants(leader: int, marker: str) -> list[int]:
    """Live processes that came from ``leader``: those whose environment holds ``marker``
    (``NAME=value``, inherited across ``setsid`` and re-parenting), its process group, and the
    descendants of any of those by parent chain. Empty where there is no ``/proc``."""
    if not _PROC.is_dir():
        return []
    needle = marker.encode()
    parents: dict[int, int] = {}
    found: set[int] = set()
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        stat = _stat_fields(pid)
        if stat is None or stat[0] == "Z":
            continue
        parents[pid] = stat[1]
        if pid == leader or stat[2] == leader or _environ_has(pid, needle):
            found.add(pid)
    changed = True
    while changed:  # add children of anything found, until nothing new
        changed = False
        for pid, parent in parents.items():
            if pid not in found and (parent in found or parent == leader):
                found.add(pid)
                changed = True
    return sorted(found)


def stop_descendants(pids: list[int], grace_s: float) -> tuple[list[int], list[int]]:
    """SIGTERM ``pids``, wait up to ``grace_s`` for them, SIGKILL the rest; reap our own
    children among them. Returns (stopped, left_running)."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    _wait_all_gone(pids, grace_s)
    for pid in pids:
        if not _gone(pid):
            _signal(pid, signal.SIGKILL)
    _wait_all_gone(pids, max(grace_s, 1.0))
    stopped = [pid for pid in pids if _gone(pid)]
    return stopped, [pid for pid in pids if pid not in stopped]


def _wait_members_gone(pgid: int, seconds: float) -> None:
    """Wait until no live member of group ``pgid`` is left: a SIGKILLed process may take a
    moment to die on a loaded machine, and must not then be taken for one left behind."""
    deadline = time.monotonic() + seconds
    while _live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _live_members(pgid: int) -> bool:
    if not _PROC.is_dir():
        return False
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat_fields(int(entry.name))
            if stat is not None and stat[2] == pgid and not _gone(int(entry.name)):
                return True
    return False


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _wait_all_gone(pids: list[int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)


def _gone(pid: int) -> bool:
    """Exited: absent, or a zombie (reaped here when it is our child, e.g. as subreaper)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    stat = _stat_fields(pid)
    if stat is not None:
        return stat[0] == "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return not _PROC.is_dir()


def _stat_fields(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) from ``/proc/<pid>/stat``, or None."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[1]), int(fields[2])
    except (IndexError, ValueError):
        return None


def _environ_has(pid: int, needle: bytes) -> bool:
    try:
        data = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return needle in data.split(b"\0")
