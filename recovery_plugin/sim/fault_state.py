"""State the fault-injected commands share across processes: invocation counts and hang pids."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict
from pathlib import Path

from recovery_plugin.sim.fault_schema import IngestFaults, ReprocessFaults

__all__ = ["hang_pid_path", "next_invocation", "reset_state", "state_path_for"]


def state_path_for(faults_path: Path) -> Path:
    return faults_path.with_name(faults_path.name + ".state.json")


def hang_pid_path(faults_path: Path, command: str) -> Path:
    """``<faults dir>/<command>-hang.pids.json``."""
    return faults_path.with_name(f"{command}-hang.pids.json")


def reset_state(faults_path: Path) -> None:
    state_path_for(faults_path).unlink(missing_ok=True)


def next_invocation(faults_path: Path, command: str, config: IngestFaults | ReprocessFaults) -> int:
    """Count one invocation of ``command`` and return its number (1 for the first).

    The count lives in the state file next to the faults file, is updated under an exclusive
    ``flock``, and restarts when ``config`` (the command's fault section) changes.
    """
    key = json.dumps(asdict(config), sort_keys=True, default=sorted)
    fd = os.open(state_path_for(faults_path), os.O_RDWR | os.O_CREAT, 0o644)
    with os.fdopen(fd, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            state = json.loads(handle.read() or "{}")
        except ValueError:
            state = {}
        if not isinstance(state, dict):
            state = {}
        entry = state.get(command)
        count = 0
        if isinstance(entry, dict) and entry.get("config") == key:
            previous = entry.get("invocations")
            count = previous if isinstance(previous, int) else 0
        count += 1
        state[command] = {"config": key, "invocations": count}
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(state, indent=2, sort_keys=True))
        handle.flush()
        os.fsync(handle.fileno())
    return count
