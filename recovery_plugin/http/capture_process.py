"""The launcher's capture in a child process: its own interpreter lock, started before pytest.

In one process the capture threads and the checks share one interpreter lock, so a run of
1,000 ids took the sum of their CPU time. :class:`ProcessCaptureBatch` runs the same
:class:`~recovery_plugin.http.batch.CaptureBatch` in ``python -m
recovery_plugin.http.capture_process``, started before pytest is imported, and reads each
capture from the child's stdout as it arrives; the checks read them here exactly as from the
in-process batch (the capture file, progress and masking stay in this process).

The child stops when told (an interrupt: it is killed, so its requests in flight end at once),
when this process goes away (its stdin reaches end of file), or when it is done. Frames on the
pipe are a 4-byte length and a pickle: parent and child are the same installed code, and the
pipe is theirs alone.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import fields
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from recovery_plugin.http.arrivals import Arrivals
from recovery_plugin.http.capture import Capture, CaptureKey, Target
from recovery_plugin.records import dataclass
from recovery_plugin.redact import Redactor

if TYPE_CHECKING:
    from recovery_plugin.config import CaptureSpec
    from recovery_plugin.http.capture_file import CaptureFileStream
    from recovery_plugin.http.openapi_doc import FetchedDocument

__all__ = ["CaptureProcessError", "ProcessCaptureBatch"]

_SENT_FIELDS = tuple(f.name for f in fields(Capture) if f.name != "redactor")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class CaptureProcessError(RuntimeError):
    """The capture process failed: the message says how (its exit code, its last words)."""


@dataclass(frozen=True)
class _Job:
    base_url: str
    targets: list[Target]
    spec: CaptureSpec
    redactor: Redactor
    readiness_path: str | None
    documents: tuple[str, ...]


def _write_frame(out: IO[bytes], kind: str, payload: Any) -> None:
    frame = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(frame).to_bytes(4, "big") + frame)
    out.flush()


def _read_frame(source: IO[bytes]) -> tuple[str, Any] | None:
    header = source.read(4)
    if len(header) < 4:
        return None
    frame = source.read(int.from_bytes(header, "big"))
    kind, payload = pickle.loads(frame)
    return str(kind), payload


class ProcessCaptureBatch(Arrivals):
    """A :class:`~recovery_plugin.http.batch.CaptureBatch` run in a child process."""

    child_argv: tuple[str, ...] = (sys.executable, "-m", "recovery_plugin.http.capture_process")
    """How the child is started (a test replaces it to see a child fail)."""

    def __init__(
        self,
        base_url: str,
        targets: Iterable[Target],
        spec: CaptureSpec,
        *,
        redactor: Redactor,
        readiness_path: str | None,
        cancel: threading.Event | None = None,
        on_done: Callable[[Capture], None] = lambda capture: None,
        stream: CaptureFileStream | None = None,
        documents: Iterable[str] = (),
    ) -> None:
        super().__init__(
            targets,
            base_url=base_url,
            redactor=redactor,
            on_done=on_done,
            stream=stream,
            documents=documents,
        )
        self._job = _Job(
            base_url,
            list(self._targets.values()),
            spec,
            redactor,
            readiness_path,
            tuple(self._documents),
        )
        self.redactor = redactor
        self.cancel = cancel or threading.Event()
        self._concurrency: dict[str, Any] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> ProcessCaptureBatch:
        # A file, not a pipe: the child can never block on it. The reader closes it.
        errors = tempfile.TemporaryFile()  # noqa: SIM115
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        try:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                list(self.child_argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=errors, env=env,
            )  # fmt: skip
        except OSError as exc:
            errors.close()
            self._finish(CaptureProcessError(f"cannot start the capture process: {exc}"))
            return self
        self._proc = proc
        self._reader = threading.Thread(
            target=self._read, args=(proc, errors), name="capture-process", daemon=True
        )
        self._reader.start()
        threading.Thread(target=self._stop_on_cancel, name="capture-cancel", daemon=True).start()
        return self

    # --- this side of the pipe ------------------------------------------------------------------

    def _read(self, proc: subprocess.Popen[bytes], errors: IO[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        error: BaseException | None = None
        ended = False
        try:
            try:
                job = pickle.dumps(self._job, protocol=pickle.HIGHEST_PROTOCOL)
                proc.stdin.write(len(job).to_bytes(4, "big") + job)
                proc.stdin.flush()  # kept open: its end of file tells the child we are gone
            except OSError:
                pass  # the child is gone already: its exit says why
            job = b""  # not kept while reading (100,000 targets pickle to ~10 MB)
            while True:
                # Paused, the child blocks on a full pipe and stops fetching until there is room.
                self._await_room(self.cancel.is_set)
                frame = _read_frame(proc.stdout)
                if frame is None:
                    break
                kind, payload = frame
                if kind == "end":
                    self._concurrency, message = payload
                    error = CaptureProcessError(self.redactor.text(message)) if message else None
                    ended = True
                    break
                self._handle(kind, payload)
        except BaseException as exc:  # a torn frame: the child died mid-write
            unreadable = f"the capture process's output is unreadable: {exc}"
            error = CaptureProcessError(self.redactor.text(unreadable))
        finally:
            self._stop(proc)
            proc.stdout.close()
            if not ended and error is None and not self.cancel.is_set():
                message = _exit_message(proc.returncode, errors)
                error = CaptureProcessError(self.redactor.text(message))
            errors.close()
            self._finish(error)

    def _handle(self, kind: str, payload: Any) -> None:
        if kind == "ready":
            self._ready(payload)
        elif kind == "capture":
            key, sent = payload
            key = self._own_key(key, sent)
            capture = Capture(**sent, redactor=self.redactor)
            try:
                self._arrive(capture, key)
            except BaseException as exc:  # as in-process: a failing hook fails that target
                self._fail(key, exc)
                return
            self._add(key, capture)
        elif kind == "document":
            url, fetched = payload
            self._document(str(url), fetched)
        elif kind == "failed":
            key, message = payload
            self._fail(self._own_key(key), CaptureProcessError(self.redactor.text(message)))

    def _own_key(self, key: Any, sent: dict[str, Any] | None = None) -> CaptureKey:
        """The target's own key (and name and id in ``sent``) for the frame's copies: what is
        kept of a capture after it is released then shares the target's strings."""
        target = self._targets.get(tuple(key))
        if target is None:
            return (str(key[0]), key[1])
        if sent is not None:
            sent["name"], sent["matchup_id"] = target.name, target.matchup_id
        return target.key

    def _stop_on_cancel(self) -> None:
        while not self._done:
            if self.cancel.wait(0.1):
                if self._proc is not None:
                    self._stop(self._proc)
                return

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        proc.wait()

    def close(self) -> None:
        """Stop the child if it is still capturing (the session ended before it was done)."""
        self._drain()
        if self._proc is not None:
            self._stop(self._proc)

    def _join(self) -> None:
        if self._reader is not None:
            self._reader.join()

    def concurrency(self) -> dict[str, Any]:
        if self._concurrency is not None:
            return self._concurrency
        from recovery_plugin.http.concurrency import AdaptiveLimit

        return AdaptiveLimit(self._job.spec.concurrency).to_dict()


def _exit_message(returncode: int | None, errors: IO[bytes]) -> str:
    errors.seek(0)
    lines = errors.read().decode("utf-8", "replace").strip().splitlines()
    last = f": {lines[-1]}" if lines else ""
    if returncode is not None and returncode < 0:
        with contextlib.suppress(ValueError):
            return f"the capture process was killed by {signal.Signals(-returncode).name}{last}"
    return f"the capture process exited with code {returncode} before it finished{last}"


# --- the child ----------------------------------------------------------------------------------


def _child() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent hears the interrupt and stops us
    frames = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must never corrupt the frames
    stdin = sys.stdin.buffer
    header = stdin.read(4)
    job: _Job = pickle.loads(stdin.read(int.from_bytes(header, "big")))
    lock = threading.Lock()

    def send(kind: str, payload: Any) -> None:
        try:
            with lock:
                _write_frame(frames, kind, payload)
        except OSError:  # the parent is gone: nobody is left to capture for
            os._exit(0)

    def watch_parent() -> None:
        stdin.read()  # returns at end of file: the parent closed the pipe or went away
        os._exit(0)

    threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()

    from recovery_plugin.http.batch import CaptureBatch, Readiness

    class Forwarding(CaptureBatch):
        def _ready(self, readiness: Readiness | None) -> None:
            super()._ready(readiness)
            send("ready", readiness)

        def _document(self, url: str, fetched: FetchedDocument) -> None:
            send("document", (url, fetched))

        def _add(self, key: CaptureKey, capture: Capture) -> None:
            send("capture", (key, {name: getattr(capture, name) for name in _SENT_FIELDS}))

        def _fail(self, key: CaptureKey, exc: BaseException) -> None:
            send("failed", (key, f"{type(exc).__name__}: {exc}"))

    batch = Forwarding(
        job.base_url, job.targets, job.spec, redactor=job.redactor,
        readiness_path=job.readiness_path, documents=job.documents,
    )  # fmt: skip
    batch.start()
    batch._join()
    error = batch._error
    send("end", (batch.concurrency(), f"{type(error).__name__}: {error}" if error else None))
    frames.close()
    return 0


if __name__ == "__main__":
    sys.exit(_child())
