"""Fetching endpoints with httpx: one request, and every target once.

Every failure becomes data on the :class:`Capture` (``error.kind``), never an exception: one
failing endpoint must not stop the others, and the checks turn each kind into a precise reason.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from http.client import RemoteDisconnected
from typing import TYPE_CHECKING, Any

import httpx

from recovery_plugin.clock import now_iso
from recovery_plugin.config import CaptureSpec
from recovery_plugin.http.bounded_body import read_capped
from recovery_plugin.http.capture import Capture, CaptureKey, Target
from recovery_plugin.redact import Redactor

if TYPE_CHECKING:
    from recovery_plugin.http.transport import LeanTransport

__all__ = [
    "capture_all",
    "describe_error",
    "error_kind",
    "fetch",
    "fetch_each",
    "make_client",
]

_PREVIEW_CHARS = 2000


class _SetCookiesOnly(httpx.Cookies):
    """A cookie jar that reads a response only when it sets a cookie: httpx's reading builds
    urllib request and response stand-ins for every response (an eighth of a capture's cost),
    and nearly no JSON endpoint sets one."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class CaptureClient(httpx.Client):
    """An ``httpx.Client`` whose cookie jar is :class:`_SetCookiesOnly` (cookies work as ever)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cookies = self.cookies  # through the setter below: the jar becomes ours

    @property
    def cookies(self) -> httpx.Cookies:
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._cookies = _SetCookiesOnly(cookies)


def make_client(
    spec: CaptureSpec, *, timeout: float | None = None, transport: LeanTransport | None = None
) -> httpx.Client:
    """An httpx client over our lean keep-alive transport: one whole-request deadline per
    request (a dripping server cannot hold it), the body capped, no Nagle stall. Give the
    ``transport`` (:func:`lean_transport`) to keep a handle that can abort its requests."""
    return CaptureClient(
        timeout=httpx.Timeout(timeout if timeout is not None else spec.timeout),
        follow_redirects=True,
        max_redirects=spec.max_redirects,
        transport=transport if transport is not None else lean_transport(spec),
        headers={"Accept": "application/json", "User-Agent": "recovery-bundle"},
    )


def lean_transport(spec: CaptureSpec) -> LeanTransport:
    from recovery_plugin.http.transport import LeanTransport

    return LeanTransport(
        max_body_bytes=spec.max_body_bytes, max_idle_per_origin=max(1, spec.concurrency)
    )


def fetch(
    client: httpx.Client, base_url: str, target: Target, *, max_body: int, redactor: Redactor
) -> Capture:
    """One request; never raises: whatever goes wrong (a URL the client refuses to build, an id
    that cannot be encoded, a broken transport) becomes this capture's ``error``."""
    capture = Capture(
        name=target.name,
        url=redactor.text(base_url + target.path_template),
        path=target.path_template,
        matchup_id=target.matchup_id,
        captured_at=now_iso(),
        redactor=redactor,
    )
    start = time.monotonic()
    try:
        capture.path = target.path
        url = base_url + capture.path
        capture.url = redactor.text(url)
        with client.stream("GET", url) as response:
            capture.status = response.status_code
            capture.headers = dict(response.headers)
            body, capture.truncated = read_capped(response, max_body)
    except httpx.HTTPError as exc:
        message = describe_error(exc) + _timeout_note(exc, client.timeout)
        capture.error = {"kind": error_kind(exc), "message": redactor.text(message)}
        capture.elapsed_s = round(time.monotonic() - start, 4)
        return capture
    except Exception as exc:  # one bad target must never lose the others
        capture.error = {
            "kind": _client_error_kind(exc),
            "message": redactor.text(_first_line(exc)),
        }
        capture.elapsed_s = round(time.monotonic() - start, 4)
        return capture
    capture.elapsed_s = round(time.monotonic() - start, 4)
    capture.body_bytes = len(body)
    _decode_body(capture, body)
    return capture


def _client_error_kind(exc: Exception) -> str:
    if isinstance(exc, httpx.InvalidURL):
        return "invalid_url"
    if isinstance(exc, UnicodeError):
        return "unencodable_id"
    return "client_error"


def _first_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    if isinstance(exc, httpx.InvalidURL):
        return f"invalid URL: {text}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def fetch_each(
    client: httpx.Client,
    base_url: str,
    spec: CaptureSpec,
    redactor: Redactor,
    on_done: Callable[[Capture], None],
) -> Callable[[Target], Capture]:
    """``fetch`` for one target at a time from many threads, calling ``on_done`` one at a time."""
    lock = threading.Lock()

    def one(target: Target) -> Capture:
        capture = fetch(client, base_url, target, max_body=spec.max_body_bytes, redactor=redactor)
        with lock:
            on_done(capture)
        return capture

    return one


def capture_all(
    base_url: str,
    targets: Iterable[Target],
    spec: CaptureSpec,
    *,
    redactor: Redactor,
    client: httpx.Client | None = None,
    on_done: Callable[[Capture], None] = lambda capture: None,
) -> dict[CaptureKey, Capture]:
    """Fetch every target once, ``spec.concurrency`` at a time, over one keep-alive client."""
    targets = list(targets)
    own_client = client is None
    http = client or make_client(spec)
    one = fetch_each(http, base_url, spec, redactor, on_done)
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


def error_kind(exc: httpx.HTTPError) -> str:
    """The ``error.kind`` of a transport failure (the checks turn each into its own reason).

    The httpx class says at which stage it failed; the OS error under it says why: a name that
    does not resolve, a TLS handshake that failed, a reset — each its own kind.
    """
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect_timeout"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too_many_redirects"
    cause = _os_cause(exc)
    if isinstance(cause, socket.gaierror):
        return "dns_failure"
    if isinstance(cause, ssl.SSLError):
        return "tls_error"
    # A clean close before the status line is RemoteDisconnected, a ConnectionResetError too.
    if isinstance(cause, ConnectionResetError) and not isinstance(cause, RemoteDisconnected):
        return "connection_reset"
    if isinstance(exc, httpx.ConnectError):
        return "connection_refused"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection_dropped"
    return "http_error"


def describe_error(exc: httpx.HTTPError) -> str:
    """The first line of the error's message (its type when it has none), with the host when
    the name did not resolve; not yet redacted."""
    text = (str(exc) or type(exc).__name__).splitlines()[0]
    if isinstance(_os_cause(exc), socket.gaierror):
        host = _request_host(exc)
        if host and host not in text:
            text = f"{host}: {text}"
    return text


def _os_cause(exc: BaseException) -> OSError | None:
    """The OS-level error an httpx error was raised from (through httpcore's own), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            return current
        current = current.__cause__ or current.__context__
    return None


def _request_host(exc: httpx.HTTPError) -> str | None:
    try:
        return exc.request.url.host
    except RuntimeError:  # an error raised without its request
        return None


def _timeout_note(exc: httpx.HTTPError, timeout: httpx.Timeout) -> str:
    """How long was waited, so the operator knows which limit to raise (``capture.timeout``)."""
    if isinstance(exc, httpx.ConnectTimeout) and timeout.connect is not None:
        return f" (no connection within {timeout.connect:g}s)"
    if isinstance(exc, httpx.TimeoutException) and timeout.read is not None:
        return f" (no answer within {timeout.read:g}s)"
    return ""


def _decode_body(capture: Capture, body: bytes) -> None:
    """Decode ``body`` onto the capture as sent (masking happens when it is written)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if capture.truncated and exc.reason == "unexpected end of data":
            # The cap cut a multi-byte character in two: the body is UTF-8, just cut short.
            capture.body = body[: exc.start].decode("utf-8", errors="replace")[:_PREVIEW_CHARS]
            return
        capture.body = body[:_PREVIEW_CHARS].decode("utf-8", errors="replace")
        capture.decode_error = {
            "kind": "not_utf8",
            "message": f"body is not UTF-8 ({exc.reason} at byte {exc.start})",
        }
        return
    if capture.truncated:
        capture.body = text[:_PREVIEW_CHARS]
        return
    if not text.strip():
        capture.body = None  # no body (204, an empty error): nothing to decode
        return
    try:
        capture.body = json.loads(text)
        capture.body_text = text
    except json.JSONDecodeError as exc:
        capture.body = text[:_PREVIEW_CHARS]
        capture.decode_error = {
            "kind": "invalid_json",
            "message": f"body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
        }
