"""The capture file (``api_capture.json`` and its baseline twin): writing it, reading it back.

Only the standard library at import: the report views read capture files without httpx.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from recovery_plugin.http.capture import Capture, CaptureKey


class Readiness(Protocol):
    """What the file's head records of the readiness wait (``http.batch.Readiness``; not
    imported here: the batch imports this module)."""

    def to_dict(self) -> dict[str, Any]: ...


__all__ = ["CaptureFileStream", "judged_captures", "read_captures", "write_capture_file"]


def write_capture_file(
    path: Path, api_base: str, captures: Iterable[Capture], readiness: Readiness | None = None
) -> None:
    """Write the capture file atomically: one capture per line (fast to write, easy to grep)."""
    from recovery_plugin.atomic import write_text_atomic

    lines = [_line(c) for c in captures]
    write_text_atomic(path, _head(api_base, readiness) + ",\n".join(lines) + _TAIL)


_TAIL = "\n]}\n"


def _head(api_base: str, readiness: Readiness | None) -> str:
    head = json.dumps(
        {"api_base": api_base, "readiness": readiness.to_dict() if readiness else None},
        ensure_ascii=False,
    )
    return head[:-1] + ', "captures": [\n'


def _line(capture: Capture) -> str:
    body = capture.written_body_json()
    if body is None:
        return json.dumps(capture.to_dict(), ensure_ascii=False, default=str)
    # The body's own JSON text goes in as it came: decoding it was needed for the checks, but
    # encoding it again was half the cost of writing a capture.
    head = json.dumps(capture.written_fields(), ensure_ascii=False, default=str)
    return f'{head[:-1]}, "body": {body}}}'


class CaptureFileStream:
    """The capture file written as the captures arrive, in the format of
    :func:`write_capture_file` (captures in the order they arrived): no capture's masked form is
    held in memory until the end. The file is built in a temporary beside ``path`` and renamed
    into place by :meth:`finish`, so a reader sees the old file or the whole new one."""

    def __init__(self, path: Path, api_base: str) -> None:
        from recovery_plugin.atomic import create_temporary

        self.path = path
        self._api_base = api_base
        fd, self._tmp = create_temporary(path)
        self._file = os.fdopen(fd, "w", encoding="utf-8")
        self._lock = threading.Lock()
        self._count = 0
        self._begun = False
        self.closed = False
        self.failure: OSError | None = None
        """The first write that failed (a full disk), raised by :meth:`finish`."""
        self.keys: set[tuple[str, str | None]] = set()
        """The (name, matchup id) of every capture written so far."""

    def begin(self, readiness: Readiness | None) -> None:
        """Write the head (once the readiness wait is over); captures follow."""
        with self._lock:
            if not self._begun:
                self._write(_head(self._api_base, readiness))
                self._begun = True

    def add(self, capture: Capture, key: CaptureKey | None = None) -> None:
        """Append one capture (thread-safe). A failed write (a full disk) is kept, not raised
        in the capture thread: :meth:`finish` raises it. ``key``: the capture's target's own
        key, kept instead of a new tuple (100,000 of them are ~15 MB)."""
        line = _line(capture)
        with self._lock:
            if self.closed:
                return
            if not self._begun:
                self._write(_head(self._api_base, None))
                self._begun = True
            self._write(line if not self._count else ",\n" + line)
            self._count += 1
            self.keys.add(key if key is not None else (capture.name, capture.matchup_id))

    def _write(self, text: str) -> None:
        if self.failure is not None:
            return
        try:
            self._file.write(text)
        except OSError as exc:
            self.failure = exc

    def finish(self, more: Iterable[Capture] = ()) -> None:
        """Append ``more``, close the list and put the file in place (mode 0644, or the mode of
        the file it replaces). Raises the first failed write as an ``OSError`` naming the file,
        and leaves no temporary behind."""
        for capture in more:
            self.add(capture)
        self.begin(None)
        with self._lock:
            if self.closed:
                raise ValueError(f"{self.path}: the capture file stream is closed")
            self.closed = True
            try:
                if self.failure is not None:
                    raise self.failure
                self._file.write(_TAIL)
                self._file.flush()
                try:
                    mode = self.path.stat().st_mode & 0o777
                except FileNotFoundError:
                    mode = 0o644
                os.fchmod(self._file.fileno(), mode)
                os.fsync(self._file.fileno())
                self._file.close()
                Path(self._tmp).replace(self.path)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    self._file.close()
                with contextlib.suppress(FileNotFoundError):
                    Path(self._tmp).unlink()
                if exc.filename is None:
                    exc.filename = str(self.path)  # a failed write() names no file
                raise

    def abandon(self) -> None:
        """Drop the temporary (the capture file is then written whole, the old way)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            with contextlib.suppress(OSError):
                self._file.close()
            with contextlib.suppress(FileNotFoundError):
                Path(self._tmp).unlink()


def read_captures(path: Path) -> list[dict[str, Any]]:
    """The captures in the file at ``path``; none when it is missing, unreadable or not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    captures = data.get("captures") if isinstance(data, dict) else None
    if not isinstance(captures, list):
        return []
    return [c for c in captures if isinstance(c, dict)]


def judged_captures(captures: Iterable[dict[str, Any]]) -> dict[tuple[Any, Any], dict[str, Any]]:
    """One capture per check, the one it was judged on, by (endpoint, matchup id): the last the
    file holds for each, in the order the checks first appear. A polled check is captured again
    on every attempt, and the file keeps each as it arrives."""
    last: dict[tuple[Any, Any], dict[str, Any]] = {}
    for capture in captures:
        last[(capture.get("name"), capture.get("matchup_id"))] = capture
    return last
