"""A step's log file: bounded (the tail is kept), and a failed write (a full disk) is recorded,
never raised into the thread that drains the step's output."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["DEFAULT_MAX_LOG_BYTES", "LOG_FAILURE_PREFIX", "StepLog", "open_binary"]

LOG_FAILURE_PREFIX = "cannot write the step log"

DEFAULT_MAX_LOG_BYTES = 32 * 1024 * 1024
MIN_MAX_LOG_BYTES = 4096

Opener = Callable[[Path], IO[bytes]]


def open_binary(path: Path) -> IO[bytes]:
    return path.open("w+b")


class StepLog:
    """Write-only text log of at most about ``max_bytes``: past the cap, the earliest output is
    dropped (the command line and a note ``log truncated at N bytes`` stay at the top)."""

    def __init__(self, path: Path, *, max_bytes: int, opener: Opener = open_binary) -> None:
        self.path = path
        self.max_bytes = max(max_bytes, MIN_MAX_LOG_BYTES)
        self.error: str | None = None
        self.dropped_bytes = 0
        self._opener = opener
        self._handle: IO[bytes] | None = None
        self._header = b""
        self._size = 0

    @property
    def truncated_at(self) -> int | None:
        return self.max_bytes if self.dropped_bytes else None

    def open(self, header: str) -> bool:
        """Create the file and write ``header`` (the command line); False if that failed."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self._opener(self.path)
        except OSError as exc:
            self._fail(exc)
            return False
        self._header = header.encode("utf-8", "replace")
        self._write_raw(self._header)
        return self.error is None

    def write(self, text: str) -> None:
        if self.error is not None or self._handle is None:
            return  # the pipe is still drained; what cannot be written is dropped
        data = text.encode("utf-8", "replace")
        if self._size + len(data) > self.max_bytes:
            self._keep_tail(data)
        else:
            self._write_raw(data)

    def close(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None

    def _write_raw(self, data: bytes) -> None:
        assert self._handle is not None
        try:
            self._handle.write(data)
            self._handle.flush()
        except OSError as exc:
            self._fail(exc)
            return
        self._size += len(data)

    def _keep_tail(self, data: bytes) -> None:
        """Rewrite the file as header, note, and the last half of the cap's worth of output."""
        assert self._handle is not None
        try:
            self._handle.seek(len(self._header) + self._note_length())
            body = self._handle.read() + data
            keep = body[-(self.max_bytes // 2) :]
            newline = keep.find(b"\n")
            if 0 <= newline < len(keep) - 1:
                keep = keep[newline + 1 :]  # start at a whole line
            self.dropped_bytes += len(body) - len(keep)
            note = self._note()
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.write(self._header + note + keep)
            self._handle.flush()
        except OSError as exc:
            self._fail(exc)
            return
        self._size = len(self._header) + len(note) + len(keep)

    def _note(self) -> bytes:
        if not self.dropped_bytes:
            return b""
        return (
            f"[recovery-bundle] log truncated at {self.max_bytes} bytes:"
            f" {self.dropped_bytes} earlier bytes dropped, the tail kept\n"
        ).encode()

    def _note_length(self) -> int:
        return len(self._note())

    def _fail(self, exc: OSError) -> None:
        if self.error is not None:
            return
        self.error = f"{LOG_FAILURE_PREFIX} {self.path}: {exc.strerror or exc}"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            self._make_room()

    def _make_room(self) -> None:
        """On a full disk, empty the log (the command line and the reason stay) so the report fits."""
        if self._handle is None:
            return
        # The buffered handle holds output that could not be written: close it (its flush fails
        # and is dropped) and reopen the file empty, so nothing of the flood lands afterwards.
        with contextlib.suppress(OSError):
            self._handle.close()
        try:
            self._handle = self.path.open("wb")
        except OSError:
            self._handle = None
            return
        with contextlib.suppress(OSError):
            note = f"[recovery-bundle] {self.error}; the log was emptied to leave room\n"
            self._handle.write(self._header + note.encode("utf-8", "replace"))
            self._handle.flush()
