"""What the operator sees while a run is going on.

On a terminal, a status line at the bottom is redrawn in place (running steps with their elapsed
time, reprocess n/N, capture n/N) while event lines scroll above it. Anywhere else (a CI log, a
pipe), it is plain line-by-line output and nothing is redrawn; a long phase (capture n/N) adds a
plain count line every 10% of the way or every 5 s, whichever comes first, so a CI log shows
that a run of 100,000 checks is moving: ``[capture] 2000/10002 (19%), 1998 failed`` (the failed
count once there is one).

A console that went away (``recovery-bundle run ... | head -1``) never stops a run: the first
write failing with a broken pipe closes the console, later lines are dropped, and the stream's
descriptor is pointed at ``/dev/null`` so the final summary and the interpreter's own flush at
exit cannot fail either. The report is still written and the exit code stays the run's.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress", "silence"]

_REDRAW_SECONDS = 0.25
_PLAIN_EVERY_SECONDS = 5.0
_PLAIN_EVERY_FRACTION = 0.1
_PLAIN_MIN_TOTAL = 50
"""Phases shorter than this get no 10% lines (still a line every 5 s)."""


class Progress:
    def __init__(self, stream: TextIO, *, live: bool | None = None) -> None:
        self._stream = stream
        self._live = stream.isatty() if live is None else live
        self._lock = threading.Lock()
        self._running: dict[str, float] = {}
        self._counts: dict[str, list[int]] = {}  # phase -> [done, total, failed]
        self._plain_marks: dict[str, tuple[float, int]] = {}  # phase -> (time, count) last told
        self._status_width = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gone = False

    # --- events from the runner ------------------------------------------------------------

    def line(self, text: str) -> None:
        with self._lock:
            self._guarded(lambda: self._emit(text))

    def step_started(self, label: str) -> None:
        with self._lock:
            self._running[label] = time.monotonic()

    def step_finished(self, label: str) -> None:
        with self._lock:
            self._running.pop(label, None)

    def expect(self, phase: str, total: int) -> None:
        """Announce ``total`` units of ``phase`` (e.g. ``capture``, ``reprocess``)."""
        with self._lock:
            self._counts[phase] = [0, total, 0]
            self._plain_marks[phase] = (time.monotonic(), 0)

    def advance(self, phase: str, *, failed: bool = False) -> None:
        """One more unit of ``phase`` done (``failed``: one that failed)."""
        with self._lock:
            counts = self._counts.get(phase)
            if counts is None:
                return
            counts[0] += 1
            counts[2] += failed
            if not self._live:
                self._plain_count(phase, counts[0], counts[1], counts[2])

    def _plain_count(self, phase: str, done: int, total: int, failed: int = 0) -> None:
        """A ``[phase] n/N`` line when 10% more are done or 5 s have passed since the last."""
        if not total or done >= total:
            return  # the phase's own result line follows
        told_at, told = self._plain_marks.get(phase, (0.0, 0))
        now = time.monotonic()
        step = total * _PLAIN_EVERY_FRACTION
        by_count = total >= _PLAIN_MIN_TOTAL and done // step > told // step
        if by_count or now - told_at >= _PLAIN_EVERY_SECONDS:
            self._plain_marks[phase] = (now, done)
            tail = f", {failed} failed" if failed else ""
            self._stream.write(f"[{phase}] {done}/{total} ({done * 100 // total}%){tail}\n")
            self._stream.flush()

    # --- the live status line --------------------------------------------------------------

    def __enter__(self) -> Progress:
        if self._live:
            self._thread = threading.Thread(target=self._redraw_loop, name="progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        with self._lock:
            self._guarded(self._clear_and_flush)

    def _redraw_loop(self) -> None:
        while not self._stop.wait(_REDRAW_SECONDS):
            with self._lock:
                self._guarded(self._redraw)

    # --- writing, tolerant of a console that went away -------------------------------------

    def _emit(self, text: str) -> None:
        self._clear()
        self._stream.write(text + "\n")
        self._draw()
        self._stream.flush()

    def _redraw(self) -> None:
        self._clear()
        self._draw()
        self._stream.flush()

    def _clear_and_flush(self) -> None:
        self._clear()
        self._stream.flush()

    def _guarded(self, write: Callable[[], None]) -> None:
        if self._gone:
            return
        try:
            write()
        except OSError as exc:
            if not isinstance(exc, BrokenPipeError) and exc.errno != errno.EPIPE:
                raise
            self._gone = True
            silence(self._stream)

    def status(self) -> str:
        now = time.monotonic()
        parts = [
            f"{label} {now - started:.1f}s" for label, started in list(self._running.items())[:3]
        ]
        if len(self._running) > 3:
            parts.append(f"+{len(self._running) - 3} running")
        parts += [
            f"{phase} {done}/{total}" + (f" ({failed} failed)" if failed else "")
            for phase, (done, total, failed) in self._counts.items()
            if total
        ]
        return " | ".join(parts)

    def _draw(self) -> None:
        if not self._live:
            return
        text = self.status()
        if text:
            self._stream.write("\r" + text)
            self._status_width = len(text)

    def _clear(self) -> None:
        if self._live and self._status_width:
            self._stream.write("\r" + " " * self._status_width + "\r")
            self._status_width = 0


def silence(stream: TextIO) -> None:
    """Point ``stream``'s descriptor at /dev/null: later writes (click's, the interpreter's
    flush at exit) succeed and go nowhere instead of failing on the broken pipe."""
    with contextlib.suppress(OSError, ValueError):
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
