"""One ``apply`` at a time per output directory: a lock file the kernel holds for the run.

Acquiring is one atomic ``flock(LOCK_EX | LOCK_NB)`` on the lock file, and the kernel drops the
lock when its holder exits, however it dies: two racers can never both hold it, and there is no
check-then-delete takeover to race on. The file's content only *describes* the holder (pid, host,
run id, start time) for the refusal message, and lists the process groups of the steps the holder
has running (:meth:`OutputLock.record_step`): a holder killed by SIGKILL leaves its step running,
and a new apply must not mutate beside it.

The content is replaced, never edited in place: a new version is written to a temporary file,
locked, then renamed over the lock file, so a reader always sees a whole description and the file
at the lock's path is always locked while the run lives.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recovery_plugin.clock import now_iso
from recovery_plugin.errors import ExitCode, RecoveryError
from recovery_plugin.procgroup import group_exists, process_exists

__all__ = ["LOCK_NAME", "OutputLock"]

LOCK_NAME = ".recovery-bundle.lock"
# Each retry means a holder released (unlinked) the file between our open and our flock.
_OPEN_ATTEMPTS = 20


class OutputLock:
    """The lock on ``output_dir``; ``acquire`` raises :class:`RecoveryError` (exit 75) when refused."""

    def __init__(self, output_dir: Path, *, run_id: str, warn: Callable[[str], None]) -> None:
        self.path = output_dir / LOCK_NAME
        self.run_id = run_id
        self.warn = warn
        self._fd: int | None = None
        self._holder: dict[str, Any] = {}
        self._steps: list[int] = []
        self._mutex = threading.Lock()  # parallel reprocess steps record their groups at once

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        self._holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": now_iso(),
            "run_id": self.run_id,
            "step_process_groups": [],
        }
        try:
            self._fd = self._lock()
        except OSError as exc:
            raise RecoveryError(
                f"cannot lock output directory {self.path.parent}: {exc.strerror or exc}"
            ) from None

    def record_step(self, pgid: int) -> None:
        """Note that the step process group ``pgid`` runs on behalf of this run.

        Until :meth:`forget_step`, a new apply is refused while any process of the group lives,
        even when this run itself was killed. Does nothing unless the lock is held. Call it from
        the thread that started the step (as soon as it started), never from a signal handler.
        """
        if pgid <= 1:
            raise ValueError(f"not a step's process group: {pgid}")
        with self._mutex:
            if self._fd is None or pgid in self._steps:
                return
            self._steps.append(pgid)
            self._republish()

    def forget_step(self, pgid: int) -> None:
        """The step process group ``pgid`` has been stopped or has exited."""
        with self._mutex:
            if self._fd is None or pgid not in self._steps:
                return
            self._steps.remove(pgid)
            self._republish()

    def release(self) -> None:
        with self._mutex:
            if self._fd is None:
                return
            current = _parse(_read_path(self.path))
            if (
                current is not None
                and current.get("pid") == os.getpid()
                and current.get("run_id") == self.run_id
            ):
                # Unlinked before the kernel lock is dropped: a racer that opened this file
                # before the unlink finds it replaced and starts again on a new one.
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
            os.close(self._fd)
            self._fd = None
            self._steps = []

    # --- taking the lock ------------------------------------------------------------------------

    def _lock(self) -> int:
        for _ in range(_OPEN_ATTEMPTS):
            fd = self._publish_new()
            if fd is not None:
                return fd  # there was no lock file: ours is the first
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # released between our two looks
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._refusal(_parse(_read_path(self.path)), kernel_held=True) from None
            if not _is_file_at(fd, self.path):
                os.close(fd)  # the holder released it while we waited: try the new one
                continue
            try:
                self._take_over(_parse_previous(_read_fd(fd)))
                return self._replace_locked(fd)
            except BaseException:
                os.close(fd)
                raise
        raise RecoveryError(
            f"could not lock output directory {self.path.parent}: its lock file keeps changing",
            exit_code=ExitCode.LOCKED,
        )

    def _take_over(self, previous: dict[str, Any] | None) -> None:
        """We hold the kernel lock on a file a previous run left: refuse if that run may live on."""
        if previous is None:
            self.warn(
                f"warning: taking over a stale lock on {self.path.parent}"
                " (held by an unreadable holder, no longer running)"
            )
            return
        if previous.get("host") != socket.gethostname():
            # Its processes cannot be seen from here, nor can a lock on a network file system be
            # trusted to be shared between hosts: never steal it.
            raise self._refusal(previous, kernel_held=False)
        pid = previous.get("pid")
        if isinstance(pid, int) and pid > 0 and pid != os.getpid() and _process_alive(pid):
            # No kernel lock, yet its pid lives: an older version's lock, or a reused pid.
            raise self._refusal(previous, kernel_held=False)
        running = [pgid for pgid in _step_groups(previous) if _group_alive(pgid)]
        if running:
            groups = ", ".join(str(pgid) for pgid in running)
            raise RecoveryError(
                f"output directory {self.path.parent} is locked: the apply that held it"
                f" ({_describe(previous)}) is gone, but its steps are still running:"
                f" process group(s) {groups}; wait for them or stop them"
                f" (kill -TERM -- -{running[0]}), then apply again",
                exit_code=ExitCode.LOCKED,
            )
        self.warn(
            f"warning: taking over a stale lock on {self.path.parent}"
            f" (held by pid {pid} on {previous.get('host')}, no longer running)"
        )

    def _refusal(self, holder: dict[str, Any] | None, *, kernel_held: bool) -> RecoveryError:
        who = _describe(holder) if holder else "an apply whose lock file could not be read"
        advice = (
            f"wait for it to finish (lock {self.path})"
            if kernel_held
            else f"wait for it, or remove {self.path} if that run is gone"
        )
        return RecoveryError(
            f"output directory {self.path.parent} is locked by another apply: {who}; {advice}",
            exit_code=ExitCode.LOCKED,
        )

    # --- describing the holder ------------------------------------------------------------------

    def _locked_temp(self) -> tuple[int, str]:
        """A temporary file beside the lock holding our description, already kernel-locked."""
        self._holder["step_process_groups"] = list(self._steps)
        fd, tmp = tempfile.mkstemp(prefix=".lock.", dir=self.path.parent)
        try:
            os.write(fd, json.dumps(self._holder).encode("utf-8"))
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # invisible yet: never contended
        except BaseException:
            os.close(fd)
            Path(tmp).unlink()
            raise
        return fd, tmp

    def _publish_new(self) -> int | None:
        """Create the lock file, locked from birth; ``None`` when one exists already."""
        fd, tmp = self._locked_temp()
        try:
            os.link(tmp, self.path)
        except FileExistsError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        finally:
            Path(tmp).unlink()
        return fd

    def _replace_locked(self, old_fd: int) -> int:
        """Put a new description at the lock's path, locked before it gets there; close ``old_fd``."""
        fd, tmp = self._locked_temp()
        try:
            Path(tmp).replace(self.path)
        except BaseException:
            os.close(fd)
            Path(tmp).unlink()
            raise
        os.close(old_fd)  # the new file is locked already: there is no unlocked moment
        return fd

    def _republish(self) -> None:
        assert self._fd is not None
        self._fd = self._replace_locked(self._fd)


def _describe(holder: dict[str, Any]) -> str:
    text = f"pid {holder.get('pid')} on {holder.get('host')}"
    if holder.get("started_at"):
        text += f" since {holder['started_at']}"
    return text + f" (run {holder.get('run_id')})"


def _read_fd(fd: int) -> str:
    data = b""
    while chunk := os.pread(fd, 65536, len(data)):
        data += chunk
    return data.decode("utf-8", "replace")


def _read_path(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _parse(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _parse_previous(text: str) -> dict[str, Any] | None:
    """The previous holder's description; ``None`` when unreadable or without a usable pid."""
    holder = _parse(text)
    if holder is None:
        return None
    pid = holder.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        holder["pid"] = None
    return holder


def _step_groups(holder: dict[str, Any]) -> list[int]:
    groups = holder.get("step_process_groups")
    if not isinstance(groups, list):
        return []
    return [g for g in groups if isinstance(g, int) and not isinstance(g, bool) and g > 1]


def _is_file_at(fd: int, path: Path) -> bool:
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _process_state(pid: int) -> str | None:
    """The state letter in ``/proc/<pid>/stat`` (``Z``: a zombie), ``None`` without ``/proc``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _process_alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie (a killed holder may wait to be reaped)."""
    return process_exists(pid) and _process_state(pid) not in ("Z", "X")


def _group_alive(pgid: int) -> bool:
    """A process of group ``pgid`` lives (zombies of a killed step do not count)."""
    if not group_exists(pgid):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True  # cannot tell a zombie from a live member: assume it lives
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        if fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False
