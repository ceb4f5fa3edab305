"""A readiness wait, then one capture of every target, in the background while checks read them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from recovery_plugin.clock import interruptible_sleep, now_iso
from recovery_plugin.config import CaptureSpec
from recovery_plugin.http.arrivals import Arrivals, Readiness
from recovery_plugin.http.capture import Capture, Target
from recovery_plugin.http.concurrency import AdaptiveLimit
from recovery_plugin.http.fetch import (
    describe_error,
    error_kind,
    fetch_each,
    lean_transport,
    make_client,
)
from recovery_plugin.redact import Redactor

if TYPE_CHECKING:
    from recovery_plugin.http.capture_file import CaptureFileStream
    from recovery_plugin.http.transport import LeanTransport

__all__ = ["CaptureBatch", "Readiness", "wait_ready"]


class CaptureBatch(Arrivals):
    """A readiness wait, then one capture of every target, running in the background.

    Each capture can be read as soon as it has arrived, so the checks run while later requests
    are still in flight; :meth:`wait` returns them all. One keep-alive client serves the batch;
    ``limit.cap`` worker threads take the targets in turn (no per-target future is kept). With
    ``stream`` each capture is also written to the capture file as it arrives. The contract's
    ``documents`` (URLs) are fetched beside the captures, once the service is ready.
    """

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
        self.base_url = base_url
        self.spec = spec
        self.redactor = redactor
        self.readiness_path = readiness_path
        self.cancel = cancel
        self.limit = AdaptiveLimit(spec.concurrency)
        """How many requests are in flight: up to ``spec.concurrency``, fewer under strain."""
        self._thread = threading.Thread(target=self._run, name="capture-batch", daemon=True)
        self._closed = threading.Event()

    def start(self) -> CaptureBatch:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            transport = lean_transport(self.spec)
            with make_client(self.spec, transport=transport) as client:
                if self.cancel is not None:
                    threading.Thread(
                        target=self._abort_on_cancel,
                        args=(self.cancel, transport),
                        name="capture-cancel",
                        daemon=True,
                    ).start()
                readiness = None
                if self.readiness_path is not None and self._targets:
                    readiness = wait_ready(
                        self.base_url,
                        self.readiness_path,
                        self.spec,
                        redactor=self.redactor,
                        cancel=self.cancel,
                        client=client,
                    )
                self._ready(readiness)
                documents = None
                if self._documents:
                    documents = threading.Thread(
                        target=self._fetch_documents, name="capture-documents", daemon=True
                    )
                    documents.start()
                one = self._limited(
                    fetch_each(client, self.base_url, self.spec, self.redactor, self._arrive)
                )
                pending = iter(list(self._targets.values()))
                take = threading.Lock()
                workers = [
                    threading.Thread(
                        target=self._work,
                        args=(one, pending, take),
                        name=f"capture-{n}",
                        daemon=True,  # an interrupted run never waits for them at exit
                    )
                    for n in range(max(1, min(self.limit.cap, len(self._targets))))
                ]
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
                if documents is not None:
                    documents.join()
        except BaseException as exc:  # handed to whoever reads the batch
            self._finish(exc)
        else:
            self._finish(None)

    def _fetch_documents(self) -> None:
        from recovery_plugin.http.openapi_doc import fetch_document

        for url in list(self._documents):
            fetched = fetch_document(url, timeout=self.spec.timeout, redact=self.redactor.text)
            self._document(url, fetched)

    def _abort_on_cancel(self, cancel: threading.Event, transport: LeanTransport) -> None:
        """On an interrupt, cancel the requests in flight rather than wait for their answers."""
        while not self._done:
            if cancel.wait(0.1):
                transport.abort()
                return

    def _work(
        self, one: Callable[[Target], Capture], pending: Iterator[Target], take: threading.Lock
    ) -> None:
        while not self._closed.is_set() and (self.cancel is None or not self.cancel.is_set()):
            with take:
                target = next(pending, None)
            if target is None:
                return
            try:
                capture = one(target)
            except BaseException as exc:
                self._fail(target.key, exc)
                continue
            self._add(target.key, capture)

    def _limited(self, one: Callable[[Target], Capture]) -> Callable[[Target], Capture]:
        limit = self.limit

        def limited(target: Target) -> Capture:
            limit.acquire()
            started = time.monotonic()
            try:
                capture = one(target)
            except BaseException:
                limit.release(status=None, elapsed_s=time.monotonic() - started, failed=True)
                raise
            failed = capture.error is not None
            limit.release(status=capture.status, elapsed_s=capture.elapsed_s, failed=failed)
            return capture

        return limited

    def _join(self) -> None:
        self._thread.join()

    def close(self) -> None:
        self._closed.set()  # the workers take no new target; those in flight finish

    def concurrency(self) -> dict[str, Any]:
        return self.limit.to_dict()


def wait_ready(
    base_url: str,
    path: str,
    spec: CaptureSpec,
    *,
    redactor: Redactor,
    cancel: threading.Event | None = None,
    client: httpx.Client | None = None,
) -> Readiness:
    """Poll ``path`` with exponential backoff until it answers 2xx or the deadline passes."""
    import tenacity

    cancel = cancel or threading.Event()
    url = base_url + path
    readiness = Readiness(ready=False, url=redactor.text(url), deadline_s=spec.readiness_deadline)
    start = time.monotonic()
    probe_timeout = min(spec.timeout, max(spec.readiness_deadline, 1.0))

    def probe() -> bool:
        at = now_iso()
        try:
            if client is not None:
                response = client.get(url, timeout=probe_timeout)
            else:
                with make_client(spec, timeout=probe_timeout) as own:
                    response = own.get(url)
            outcome = f"HTTP {response.status_code}"
            ok = 200 <= response.status_code < 300
        except httpx.HTTPError as exc:
            outcome = f"{error_kind(exc)}: {redactor.text(describe_error(exc))}"
            ok = False
        readiness.attempts.append({"at": at, "outcome": outcome})
        return ok

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_delay(spec.readiness_deadline)
        | tenacity.stop_when_event_set(cancel),
        wait=tenacity.wait_exponential(
            multiplier=spec.readiness_interval, max=max(spec.readiness_interval, 2.0)
        ),
        retry=tenacity.retry_if_result(lambda ok: not ok),
        sleep=lambda seconds: interruptible_sleep(cancel, seconds),
        retry_error_callback=lambda state: False,
    )
    readiness.ready = bool(retrying(probe))
    readiness.elapsed_s = round(time.monotonic() - start, 3)
    return readiness
