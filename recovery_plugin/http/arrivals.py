"""What a capture batch hands its readers: each capture as soon as it has arrived.

:class:`~recovery_plugin.http.batch.CaptureBatch` (threads in this process) and
:class:`~recovery_plugin.http.capture_process.ProcessCaptureBatch` (a child process) fill it
the same way; the session reads either through this interface.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, field
from typing import TYPE_CHECKING, Any

from recovery_plugin.http.capture import Capture, CaptureKey, Target
from recovery_plugin.records import dataclass
from recovery_plugin.redact import Redactor

if TYPE_CHECKING:
    from recovery_plugin.http.capture_file import CaptureFileStream
    from recovery_plugin.http.openapi_doc import FetchedDocument

__all__ = ["Arrivals", "Readiness"]


@dataclass
class Readiness:
    ready: bool
    url: str
    deadline_s: float
    elapsed_s: float = 0.0
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Arrivals:
    """The captures of a fixed set of targets, arriving one by one from a background producer.

    The producer calls :meth:`_ready` once (after the readiness wait), :meth:`_add` or
    :meth:`_fail` per target, and :meth:`_finish` at the end (with the error that ended it
    early, if one did). Readers call :meth:`get`, :meth:`release` and :meth:`wait`.

    A producer that can pause (the child process's reader) calls :meth:`_await_room` before
    taking the next capture: with :meth:`hold_at_most` set, it waits while that many captures
    wait to be judged and released, unless a reader waits for one that has not arrived (or for
    all of them): a capture file of 100,000 checks is never all in memory at once.
    """

    def __init__(
        self,
        targets: Iterable[Target],
        *,
        base_url: str,
        redactor: Redactor,
        on_done: Callable[[Capture], None] = lambda capture: None,
        stream: CaptureFileStream | None = None,
        documents: Iterable[str] = (),
    ) -> None:
        self._base_url = base_url
        self._redactor = redactor
        self.on_done = on_done
        self.stream = stream
        self.readiness: Readiness | None = None
        self._targets = {t.key: t for t in targets}
        self._arrived: dict[CaptureKey, Capture | None] = {}
        """Each capture that has arrived; None once released (its key stays: it did arrive)."""
        self._failed: dict[CaptureKey, BaseException] = {}
        self._documents: dict[str, FetchedDocument | None] = dict.fromkeys(documents)
        """The OpenAPI documents the producer fetches too (by URL): None until answered."""
        self._released = 0
        self._held = 0  # captures arrived and not released
        self._window: int | None = None
        self._waiting = 0  # readers waiting for a capture that has not arrived
        self._draining = False  # a reader waits for every capture, or the batch is closing
        self._changed = threading.Condition()
        self._done = False
        self._error: BaseException | None = None
        self._submitted = threading.Event()

    # --- the producer's side ------------------------------------------------------------------

    def _ready(self, readiness: Readiness | None) -> None:
        """The readiness wait is over (None: there was none): captures follow."""
        self.readiness = readiness
        if self.stream is not None:
            self.stream.begin(readiness)
        self._submitted.set()

    def _arrive(self, capture: Capture, key: CaptureKey | None = None) -> None:
        """Called once per capture, one at a time: the file first, then the caller's hook."""
        if self.stream is not None:
            self.stream.add(capture, key)
        self.on_done(capture)

    def _add(self, key: CaptureKey, capture: Capture) -> None:
        with self._changed:
            if self._arrived.get(key) is None:
                self._held += 1
            self._arrived[key] = capture
            self._changed.notify_all()

    def _await_room(self, stop: Callable[[], bool], poll_s: float = 0.1) -> None:
        """Wait until the readers have room for another capture (see :meth:`hold_at_most`),
        or ``stop()`` is true (checked every ``poll_s``). Once full, the producer waits until
        half the window is free: it wakes once per half window, not once per check."""
        with self._changed:
            if self._window is None or self._held < self._window:
                return
            while (
                self._window is not None
                and self._held > self._window // 2
                and not self._waiting
                and not self._draining
                and not stop()
            ):
                self._changed.wait(poll_s)

    def _document(self, url: str, fetched: FetchedDocument) -> None:
        with self._changed:
            self._documents[url] = fetched
            self._changed.notify_all()

    def _fail(self, key: CaptureKey, exc: BaseException) -> None:
        with self._changed:
            self._failed[key] = exc
            self._changed.notify_all()

    def _finish(self, error: BaseException | None) -> None:
        if error is not None:
            self._error = error
        self._submitted.set()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    def _join(self) -> None:
        """Block until the producer has finished."""
        raise NotImplementedError

    # --- the readers' side --------------------------------------------------------------------

    def target(self, key: CaptureKey) -> Target | None:
        """The batch's own target of ``key`` (None: not one of the batch's): a check made for
        it shares it instead of holding a copy."""
        return self._targets.get(key)

    def get(self, target: Target) -> Capture | None:
        """The capture of ``target`` once it has arrived; None when the batch does not hold it.

        A target the producer failed on (or never reached because it failed) gets a capture
        whose ``error`` says why: the check fails with that reason, as for any transport fault.
        """
        key = target.key
        if key not in self._targets:
            self._submitted.wait()
            return None
        with self._changed:
            self._wait_for(lambda: key in self._arrived or key in self._failed)
            if key in self._arrived and self._arrived[key] is None:
                return None  # released: fetched anew by the caller
            capture = self._arrived.get(key)
            failure = self._failed.get(key)
        if failure is not None:
            return self._unavailable(self._targets[key], failure)
        if capture is None:
            if self._error is not None:
                return self._unavailable(self._targets[key], self._error)
            return None
        if target is self._targets[key]:
            return capture  # the batch's own target: the capture is its request's
        return capture if capture.path == target.path else None

    def document(self, url: str) -> FetchedDocument | None:
        """The producer's answer for the document at ``url`` once it has it; None when it does
        not fetch that one, or ended without an answer (the caller fetches it then)."""
        if url not in self._documents:
            return None
        with self._changed:
            self._wait_for(lambda: self._documents[url] is not None)
            return self._documents[url]

    def _wait_for(self, arrived: Callable[[], bool]) -> None:
        """Wait (holding ``_changed``) until ``arrived()`` or the producer is done; a paused
        producer goes on meanwhile, until it has arrived."""
        if arrived() or self._done:
            return
        self._waiting += 1
        self._changed.notify_all()
        try:
            while not arrived() and not self._done:
                self._changed.wait()
        finally:
            self._waiting -= 1

    def release(self, target: Target) -> None:
        """Forget ``target``'s capture once it has been judged and written to the capture file
        (memory stays bounded with 100,000 checks); asked for again, it is fetched anew."""
        key = target.key
        with self._changed:
            if self._arrived.get(key) is not None:
                self._arrived[key] = None  # the dict keeps its own key: nothing new is kept
                self._released += 1
                self._held -= 1
                if self._window is not None and self._held == self._window // 2:
                    self._changed.notify_all()  # a paused producer may go on

    def hold_at_most(self, window: int | None) -> None:
        """Let a pausing producer run ahead of the readers by at most ``window`` captures not
        yet released (None: no limit). Only worth it when readers release what they judged."""
        with self._changed:
            self._window = window if window is None else max(2, window)
            self._changed.notify_all()

    @property
    def released(self) -> bool:
        """Some capture was released: :meth:`wait` no longer holds every capture."""
        return bool(self._released)

    def _drain(self) -> None:
        """No more pausing: a reader waits for every capture, or the batch is closing."""
        with self._changed:
            self._draining = True
            self._changed.notify_all()

    def wait(self) -> dict[CaptureKey, Capture]:
        """Every capture of the batch (in the targets' order), once all have arrived."""
        self._drain()
        self._join()
        captures = {}
        for key, target in self._targets.items():
            if key in self._arrived:
                capture = self._arrived[key]
                if capture is not None:
                    captures[key] = capture
            elif key in self._failed:
                captures[key] = self._unavailable(target, self._failed[key])
            elif self._error is not None:
                captures[key] = self._unavailable(target, self._error)
        return captures

    def _unavailable(self, target: Target, why: BaseException) -> Capture:
        message = str(why) or type(why).__name__
        try:
            path = target.path
        except Exception:  # an id that cannot be encoded: its own check says so
            path = target.path_template
        return Capture(
            name=target.name,
            url=self._redactor.text(self._base_url + path),
            path=path,
            matchup_id=target.matchup_id,
            error={"kind": "capture_failed", "message": self._redactor.text(message)},
            redactor=self._redactor,
        )

    def close(self) -> None:
        """Stop capturing what is left (the session ended before every capture was read)."""

    def concurrency(self) -> dict[str, Any]:
        """The report's ``verification.concurrency``: the strategy the producer used."""
        raise NotImplementedError
