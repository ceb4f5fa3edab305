"""Capture endpoint responses with httpx: one keep-alive client, bounded concurrency, bounded bodies.

Every failure becomes data on the :class:`Capture` (``error.kind``), never an exception: one
failing endpoint must not stop the others, and the checks turn each kind into a precise reason.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx

from recovery_plugin.clock import now_iso
from recovery_plugin.config import CaptureSpec, EndpointSpec
from recovery_plugin.ids import path_segment
from recovery_plugin.redact import Redactor

__all__ = [
    "Capture",
    "CaptureBatch",
    "Readiness",
    "Target",
    "capture_all",
    "make_client",
    "targets_for",
    "wait_ready",
    "write_capture_file",
]

_PREVIEW_CHARS = 2000


@dataclass(frozen=True)
class Target:
    """One request to make: an endpoint, for one matchup id when its path names one."""

    name: str
    path_template: str
    matchup_id: str | None = None

    @property
    def path(self) -> str:
        if self.matchup_id is None:
            return self.path_template
        return self.path_template.replace("{matchup_id}", path_segment(self.matchup_id))

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.name, self.matchup_id)


@dataclass
class Capture:
    name: str
    url: str
    path: str
    matchup_id: str | None = None
    method: str = "GET"
    captured_at: str = ""
    status: int | None = None
    elapsed_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    body_bytes: int = 0
    truncated: bool = False
    error: dict[str, str] | None = None
    """Transport failure: ``{"kind": ..., "message": ...}`` (no response at all)."""
    decode_error: dict[str, str] | None = None
    """The response came but its body is not UTF-8 JSON: ``{"kind": "not_utf8"|"invalid_json", ...}``."""

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: asdict() would deep-copy every body (0.3 s for 1,000 matchups).
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Readiness:
    ready: bool
    url: str
    deadline_s: float
    elapsed_s: float = 0.0
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_client(spec: CaptureSpec, *, timeout: float | None = None) -> httpx.Client:
    limit = max(1, spec.concurrency)
    return httpx.Client(
        timeout=httpx.Timeout(timeout if timeout is not None else spec.timeout),
        follow_redirects=True,
        max_redirects=spec.max_redirects,
        limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        headers={"Accept": "application/json", "User-Agent": "recovery-bundle"},
    )


def targets_for(endpoints: Iterable[EndpointSpec], matchup_ids: Sequence[str]) -> list[Target]:
    """One target per endpoint, and one per matchup id for a path that names ``{matchup_id}``."""
    targets = []
    for endpoint in endpoints:
        ids: list[str | None] = list(matchup_ids) if endpoint.per_matchup else [None]
        targets += [Target(endpoint.name, endpoint.path, matchup_id) for matchup_id in ids]
    return targets


def fetch(
    client: httpx.Client, base_url: str, target: Target, *, max_body: int, redactor: Redactor
) -> Capture:
    url = base_url + target.path
    capture = Capture(
        name=target.name,
        url=redactor.text(url),
        path=target.path,
        matchup_id=target.matchup_id,
        captured_at=now_iso(),
    )
    start = time.monotonic()
    try:
        with client.stream("GET", url) as response:
            capture.status = response.status_code
            capture.headers = redactor.headers(dict(response.headers))
            body, capture.truncated = _read_capped(response, max_body)
    except httpx.HTTPError as exc:
        message = _error_message(exc) + _timeout_note(exc, client.timeout)
        capture.error = {"kind": _error_kind(exc), "message": redactor.text(message)}
        capture.elapsed_s = round(time.monotonic() - start, 4)
        return capture
    capture.elapsed_s = round(time.monotonic() - start, 4)
    capture.body_bytes = len(body)
    _decode_body(capture, body, redactor)
    return capture


def write_capture_file(
    path: Path, api_base: str, captures: Iterable[Capture], readiness: Readiness | None = None
) -> None:
    """Write ``api_capture.json`` atomically: one capture per line (fast to write, easy to grep)."""
    from recovery_plugin.atomic import write_text_atomic

    head = json.dumps(
        {"api_base": api_base, "readiness": readiness.to_dict() if readiness else None},
        ensure_ascii=False,
    )
    lines = [json.dumps(c.to_dict(), ensure_ascii=False, default=str) for c in captures]
    write_text_atomic(path, head[:-1] + ', "captures": [\n' + ",\n".join(lines) + "\n]}\n")


def _read_capped(response: httpx.Response, max_body: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        room = max_body - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def _decode_body(capture: Capture, body: bytes, redactor: Redactor) -> None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if capture.truncated and exc.reason == "unexpected end of data":
            # The cap cut a multi-byte character in two: the body is UTF-8, just cut short.
            capture.body = redactor.text(
                body[: exc.start].decode("utf-8", errors="replace")[:_PREVIEW_CHARS]
            )
            return
        capture.body = redactor.text(body[:_PREVIEW_CHARS].decode("utf-8", errors="replace"))
        capture.decode_error = {
            "kind": "not_utf8",
            "message": f"body is not UTF-8 ({exc.reason} at byte {exc.start})",
        }
        return
    if capture.truncated:
        capture.body = redactor.text(text[:_PREVIEW_CHARS])
        return
    if not text.strip():
        capture.body = None  # no body (204, an empty error): nothing to decode
        return
    try:
        capture.body = redactor.json_document(text, json.loads(text))
    except json.JSONDecodeError as exc:
        capture.body = redactor.text(text[:_PREVIEW_CHARS])
        capture.decode_error = {
            "kind": "invalid_json",
            "message": f"body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
        }


def _error_kind(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect_timeout"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connection_refused"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too_many_redirects"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection_dropped"
    return "http_error"


def _timeout_note(exc: httpx.HTTPError, timeout: httpx.Timeout) -> str:
    """How long was waited, so the operator knows which limit to raise (``capture.timeout``)."""
    if isinstance(exc, httpx.ConnectTimeout) and timeout.connect is not None:
        return f" (no connection within {timeout.connect:g}s)"
    if isinstance(exc, httpx.TimeoutException) and timeout.read is not None:
        return f" (no answer within {timeout.read:g}s)"
    return ""


def _error_message(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


def capture_all(
    base_url: str,
    targets: Iterable[Target],
    spec: CaptureSpec,
    *,
    redactor: Redactor,
    client: httpx.Client | None = None,
    on_done: Callable[[Capture], None] = lambda capture: None,
) -> dict[tuple[str, str | None], Capture]:
    """Fetch every target once, ``spec.concurrency`` at a time, over one keep-alive client."""
    targets = list(targets)
    own_client = client is None
    http = client or make_client(spec)
    lock = threading.Lock()

    def one(target: Target) -> Capture:
        capture = fetch(http, base_url, target, max_body=spec.max_body_bytes, redactor=redactor)
        with lock:
            on_done(capture)
        return capture

    try:
        if len(targets) <= 1 or spec.concurrency <= 1:
            captures = [one(t) for t in targets]
        else:
            with ThreadPoolExecutor(
                max_workers=spec.concurrency, thread_name_prefix="capture"
            ) as pool:
                captures = list(pool.map(one, targets))
    finally:
        if own_client:
            http.close()
    return {(c.name, c.matchup_id): c for c in captures}


Key = tuple[str, str | None]


class CaptureBatch:
    """A readiness wait, then one capture of every target, running in the background.

    Each capture can be read as soon as it has arrived, so the checks run while later requests
    are still in flight; :meth:`wait` returns them all. One keep-alive client serves the batch.
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
    ) -> None:
        self.base_url = base_url
        self.spec = spec
        self.redactor = redactor
        self.readiness_path = readiness_path
        self.cancel = cancel
        self.on_done = on_done
        self.readiness: Readiness | None = None
        self._targets = {t.key: t for t in targets}
        self._futures: dict[Key, Future[Capture]] = {}
        self._error: BaseException | None = None
        self._submitted = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture-batch", daemon=True)

    def start(self) -> CaptureBatch:
        self._thread.start()
        return self

    def _run(self) -> None:
        lock = threading.Lock()

        def one(client: httpx.Client, target: Target) -> Capture:
            capture = fetch(
                client,
                self.base_url,
                target,
                max_body=self.spec.max_body_bytes,
                redactor=self.redactor,
            )
            with lock:
                self.on_done(capture)
            return capture

        try:
            with make_client(self.spec) as client:
                if self.readiness_path is not None and self._targets:
                    self.readiness = wait_ready(
                        self.base_url,
                        self.readiness_path,
                        self.spec,
                        redactor=self.redactor,
                        cancel=self.cancel,
                        client=client,
                    )
                workers = max(1, self.spec.concurrency)
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="capture") as pool:
                    for key, target in self._targets.items():
                        self._futures[key] = pool.submit(one, client, target)
                    self._submitted.set()
        except BaseException as exc:  # handed to whoever reads the batch
            self._error = exc
        finally:
            self._submitted.set()

    def get(self, target: Target) -> Capture | None:
        """The capture of ``target`` once it has arrived; None when the batch does not hold it."""
        self._submitted.wait()
        future = self._futures.get(target.key)
        if future is None:
            if self._error is not None:
                raise self._error
            return None
        capture = future.result()
        return capture if capture.path == target.path else None

    def wait(self) -> dict[Key, Capture]:
        """Every capture of the batch, once all have arrived."""
        self._thread.join()
        if self._error is not None and not self._futures:
            raise self._error
        return {key: future.result() for key, future in self._futures.items()}


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
            outcome = f"{_error_kind(exc)}: {redactor.text(_error_message(exc))}"
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
        sleep=lambda seconds: _wait(cancel, seconds),
        retry_error_callback=lambda state: False,
    )
    readiness.ready = bool(retrying(probe))
    readiness.elapsed_s = round(time.monotonic() - start, 3)
    return readiness


def _wait(cancel: threading.Event, seconds: float) -> None:
    cancel.wait(seconds)
