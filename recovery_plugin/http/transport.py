"""A lean ``httpx.BaseTransport`` over ``http.client`` keep-alive connections.

httpx stays the client surface (requests, responses, hooks, redirects, gzip/deflate decoding);
only the wire work is done here, with less per-request CPU than httpcore and two socket habits
that matter against servers behind Nagle's algorithm:

- ``TCP_NODELAY`` on every connection, and on Linux ``TCP_QUICKACK`` re-armed after each request
  is sent (the kernel leaves quick-ACK mode on its own; set once at connect it changes nothing), so
  a server writing headers and body separately is not held ~40 ms by our delayed ACK;
- one **deadline for the whole request**: connect, send, status line, headers and every body read
  share the budget of the httpx timeout (the largest of its connect/write/read values), so a server
  dripping one byte a second cannot hold a request longer than that budget.

The body is returned as raw bytes with the response headers (httpx decodes content encodings);
with ``max_body_bytes=N`` at most N+1 bytes are read (a reader that got more than N knows the body
was longer) and the connection is then dropped. A request that fails on a connection reused from
the pool before any response byte arrived (the server closed it meanwhile) is retried once on a
fresh connection when its method is idempotent.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import weakref
from collections.abc import Iterator

import httpx

from recovery_plugin.http.wire import (
    STALE_ERRORS,
    Connection,
    Deadline,
    budget,
    connect,
    timeout_message,
)

__all__ = ["LeanTransport"]

_READ_CHUNK = 64 * 1024
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

Origin = tuple[str, str, int]


class _ResponseStream(httpx.SyncByteStream):
    """The body, read as it is consumed; the connection goes back to the pool once it is all read."""

    def __init__(
        self,
        transport: LeanTransport,
        origin: Origin,
        connection: Connection,
        response: http.client.HTTPResponse,
        request: httpx.Request,
    ) -> None:
        self._transport = transport
        self._origin = origin
        self._connection: Connection | None = connection
        self._response = response
        self._request = request
        self._cap = transport.max_body_bytes
        self._complete = False

    def __iter__(self) -> Iterator[bytes]:
        size = 0
        while self._connection is not None:
            want = _READ_CHUNK if self._cap is None else min(_READ_CHUNK, self._cap + 1 - size)
            if want <= 0:  # over the cap: the reader has N+1 bytes, the rest is never read
                return
            try:
                chunk = self._response.read1(want)
            except TimeoutError as exc:
                raise httpx.ReadTimeout(timeout_message(exc), request=self._request) from exc
            except http.client.IncompleteRead as exc:
                raise httpx.RemoteProtocolError(
                    f"connection closed mid-body ({exc!r})", request=self._request
                ) from exc
            except (OSError, http.client.HTTPException) as exc:
                raise httpx.ReadError(
                    str(exc) or type(exc).__name__, request=self._request
                ) from exc
            if not chunk:
                if self._response.length:  # a Content-Length not reached: closed mid-body
                    raise httpx.RemoteProtocolError(
                        f"connection closed {self._response.length} bytes before the body's end",
                        request=self._request,
                    )
                self._complete = True
                self._response.close()  # the body's reader only: the connection stays open
                return
            size += len(chunk)
            yield chunk

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._complete and not self._response.will_close:
            self._transport._release(self._origin, connection)
        else:
            self._response.close()
            connection.close()


class LeanTransport(httpx.BaseTransport):
    """``httpx.Client(transport=LeanTransport(...))``: keep-alive ``http.client`` connections.

    Thread-safe: each request takes an idle connection to its origin from the pool (or opens one)
    and gives it back when its response body has been read to the end. ``max_idle_per_origin``
    bounds the idle connections kept; how many are in use at once is the caller's concurrency.
    """

    def __init__(
        self,
        *,
        max_body_bytes: int | None = None,
        max_idle_per_origin: int = 16,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_idle_per_origin = max_idle_per_origin
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[Connection]] = {}
        self._busy: weakref.WeakSet[Connection] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False
        self._aborted = False

    # --- pool -------------------------------------------------------------------------------

    def _acquire(self, origin: Origin, request: httpx.Request) -> Connection:
        with self._lock:
            self._refuse_if_aborted(request)
            idle = self._idle.get(origin, [])
            while idle:
                connection = idle.pop()
                if not connection.is_stale():
                    connection.reused = True
                    self._busy.add(connection)
                    return connection
                connection.close()
        return self._open(origin, request)

    def _open(self, origin: Origin, request: httpx.Request) -> Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            context = self._ssl_context or ssl.create_default_context()
        connection = Connection(host, port, context)
        with self._lock:  # under the lock: either abort() sees it busy, or it sees the abort
            self._refuse_if_aborted(request)
            self._busy.add(connection)
        return connection

    def _refuse_if_aborted(self, request: httpx.Request) -> None:
        if self._aborted:
            raise httpx.ConnectError("cancelled: the run was interrupted", request=request)

    def _release(self, origin: Origin, connection: Connection) -> None:
        with self._lock:
            self._busy.discard(connection)
            idle = self._idle.setdefault(origin, [])
            if not self._closed and len(idle) < self.max_idle_per_origin:
                idle.append(connection)
                return
        connection.close()

    def abort(self) -> None:
        """Cancel every request in flight now (from any thread) and refuse new ones: a run
        interrupted mid-capture does not wait for the servers' answers or their timeouts."""
        with self._lock:
            self._aborted = True
            busy = list(self._busy)
        for connection in busy:
            connection.abort()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pools, self._idle = self._idle, {}
        for idle in pools.values():
            for connection in idle:
                connection.close()

    # --- one request --------------------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        scheme = request.url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}", request=request)
        port = request.url.port or (443 if scheme == "https" else 80)
        origin: Origin = (scheme, request.url.host, port)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        deadline = Deadline(budget(timeouts))
        body = request.read()
        connection = self._acquire(origin, request)
        for attempt in (1, 2):
            try:
                response = self._exchange(connection, request, body, deadline, timeouts)
                break
            except STALE_ERRORS as exc:
                connection.close()
                retry = attempt == 1 and connection.reused and request.method in _IDEMPOTENT
                self._refuse_if_aborted(request)  # its socket was shut by abort(): no retry
                if not retry:
                    raise httpx.RemoteProtocolError(
                        "server closed the connection without a response", request=request
                    ) from exc
                connection = self._open(origin, request)
            except BaseException:
                connection.close()
                raise
        return self._to_httpx(origin, connection, response, request)

    def _exchange(
        self,
        connection: Connection,
        request: httpx.Request,
        body: bytes,
        deadline: Deadline,
        timeouts: dict[str, float | None],
    ) -> http.client.HTTPResponse:
        """Connect if needed, send, read the status line and headers; stale errors pass through."""
        connection.deadline = deadline
        if connection.sock is None:
            connect(connection, request, deadline, timeouts.get("connect"))
        assert connection.sock is not None
        try:
            connection.sock.settimeout(deadline.remaining())
            connection.putrequest(
                request.method,
                request.url.raw_path.decode("ascii"),
                skip_host=True,
                skip_accept_encoding=True,
            )
            for name, value in _wire_headers(request, body):
                connection.putheader(name, value)
            connection.endheaders(body or None)
            connection.arm_quickack()
        except STALE_ERRORS:
            raise
        except TimeoutError as exc:
            raise httpx.WriteTimeout(timeout_message(exc), request=request) from exc
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from exc
        try:
            return connection.getresponse()
        except STALE_ERRORS:
            raise
        except TimeoutError as exc:
            raise httpx.ReadTimeout(timeout_message(exc), request=request) from exc
        except http.client.HTTPException as exc:
            raise httpx.RemoteProtocolError(
                f"invalid response ({type(exc).__name__}: {exc})", request=request
            ) from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc

    def _to_httpx(
        self,
        origin: Origin,
        connection: Connection,
        response: http.client.HTTPResponse,
        request: httpx.Request,
    ) -> httpx.Response:
        version = "HTTP/1.0" if response.version == 10 else "HTTP/1.1"
        return httpx.Response(
            response.status,
            headers=response.getheaders(),
            stream=_ResponseStream(self, origin, connection, response, request),
            extensions={
                "http_version": version.encode("ascii"),
                "reason_phrase": response.reason.encode("latin-1", errors="replace"),
            },
        )


def _wire_headers(request: httpx.Request, body: bytes) -> list[tuple[bytes, bytes]]:
    """The request's headers; a streamed (chunked) body was read whole, so it gets a length."""
    headers = [(name, value) for name, value in request.headers.raw]
    if any(name.lower() == b"transfer-encoding" for name, _ in headers):
        headers = [(n, v) for n, v in headers if n.lower() != b"transfer-encoding"]
        headers.append((b"Content-Length", str(len(body)).encode("ascii")))
    return headers
