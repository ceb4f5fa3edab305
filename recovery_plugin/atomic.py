"""Atomic file writes: a reader sees the old file or the whole new one, never a torn one.

The temporary file is named ``.<name>.<writer pid>.<random>.tmp``: a writer killed mid-write
leaves it behind, and :func:`remove_stale_temporaries` (called by the next run) removes the ones
whose writer is no longer running.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from recovery_plugin.lazy import LazyPattern

__all__ = [
    "NO_SPACE",
    "create_temporary",
    "remove_stale_temporaries",
    "write_bytes_atomic",
    "write_failure",
    "write_json_atomic",
    "write_text_atomic",
]

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
"""The errors of a full disk (or a full quota)."""


def write_failure(path: Path | str, exc: OSError) -> str:
    """The one line that says a run's file could not be written: ``disk full writing <path>:
    No space left on device`` (or ``cannot write <path>: <reason>`` for another error)."""
    what = "disk full writing" if exc.errno in NO_SPACE else "cannot write"
    return f"{what} {path}: {exc.strerror or exc}"


_TEMPORARY = LazyPattern(r"^\..+\.(?P<pid>[0-9]+)\.[^.]+\.tmp$")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename."""
    _write_atomic(Path(path), lambda handle: handle.write(data))


def _write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    fd, tmp_name = create_temporary(path)
    try:
        # The temporary is made 0600; keep the mode of the file being replaced, else 0644.
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp_name).replace(path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp_name).unlink()
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # a failed write() names no file: say which one it was
        raise


def create_temporary(path: Path) -> tuple[int, str]:
    """A temporary ``.<name>.<pid>.<random>.tmp`` beside ``path`` (what a crash leaves behind is
    removed by :func:`remove_stale_temporaries`), created 0600 and exclusively, as ``mkstemp``
    does, without importing ``tempfile``, which start-up does not otherwise need."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        name = str(path.parent / f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(name, flags, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no unused temporary name beside {path}")


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, payload: Any) -> None:
    """Serialise ``payload`` as indented UTF-8 JSON (Hangul kept readable) and write it atomically.

    The JSON is streamed into the temporary file, so a large capture is never held twice in memory.
    """

    def dump(handle: IO[bytes]) -> None:
        text = io.TextIOWrapper(handle, encoding="utf-8", write_through=True)
        json.dump(payload, text, ensure_ascii=False, indent=2, default=str)
        text.write("\n")
        text.detach()

    _write_atomic(Path(path), dump)


def remove_stale_temporaries(directory: Path, *, depth: int = 1) -> list[Path]:
    """Remove the temporaries of killed atomic writes in ``directory`` and its subdirectories
    down to ``depth`` levels; a live writer's are kept. Returns what was removed.

    ``os.scandir`` gives each entry's type without a ``stat`` of its own: the output directory
    holds every earlier run, and this runs at the start of each one."""
    removed: list[Path] = []
    try:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return removed
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_dir:
            if depth > 0:
                removed += remove_stale_temporaries(Path(entry.path), depth=depth - 1)
            continue
        if not entry.name.endswith(".tmp"):
            continue
        match = _TEMPORARY.match(entry.name)
        if match is None or _writer_alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                stale = Path(entry.path)
                stale.unlink()
                removed.append(stale)
    return removed


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    from recovery_plugin.procgroup import process_exists  # only once a temporary is found

    return process_exists(pid)
