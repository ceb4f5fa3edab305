"""One ``apply`` at a time per output directory: a lock file naming its holder.

The lock is created atomically (``os.link`` of a fully written temp file), so a reader never sees
a half-written holder. A lock whose holder process is gone (same host, dead pid) is stale and is
taken over with a warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recovery_plugin.clock import now_iso
from recovery_plugin.errors import ExitCode, RecoveryError

__all__ = ["LOCK_NAME", "OutputLock"]

LOCK_NAME = ".recovery-bundle.lock"


class OutputLock:
    def __init__(self, output_dir: Path, *, run_id: str, warn: Callable[[str], None]) -> None:
        self.path = output_dir / LOCK_NAME
        self.run_id = run_id
        self.warn = warn
        self.held = False

    def acquire(self) -> None:
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": now_iso(),
            "run_id": self.run_id,
        }
        for _ in range(2):
            if self._try_create(holder):
                self.held = True
                return
            current = self._read()
            if current is not None and not _is_stale(current):
                raise RecoveryError(
                    f"output directory {self.path.parent} is locked by another apply:"
                    f" pid {current.get('pid')} on {current.get('host')} since {current.get('started_at')}"
                    f" (run {current.get('run_id')}); wait for it, or remove {self.path} if that run is gone",
                    exit_code=ExitCode.LOCKED,
                )
            who = (
                f"pid {current.get('pid')} on {current.get('host')}"
                if current
                else "an unreadable holder"
            )
            self.warn(
                f"warning: taking over a stale lock on {self.path.parent} (held by {who}, no longer running)"
            )
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        raise RecoveryError(
            f"could not lock output directory {self.path.parent}", exit_code=ExitCode.LOCKED
        )

    def release(self) -> None:
        if not self.held:
            return
        current = self._read()
        if (
            current is not None
            and current.get("pid") == os.getpid()
            and current.get("run_id") == self.run_id
        ):
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self.held = False

    def _try_create(self, holder: dict[str, Any]) -> bool:
        fd, tmp = tempfile.mkstemp(prefix=".lock.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(holder, handle)
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                return False
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                Path(tmp).unlink()

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def _is_stale(holder: dict[str, Any]) -> bool:
    if holder.get("host") != socket.gethostname():
        return False  # cannot see another host's processes: never steal its lock
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
