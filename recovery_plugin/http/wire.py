"""The wire under ``LeanTransport``: keep-alive ``http.client`` connections under one deadline.

A ``Connection`` sets ``TCP_NODELAY`` at connect and re-arms ``TCP_QUICKACK`` (Linux) after each
request is sent; its responses read through a socket wrapper whose every read is bounded by what
is left of the request's ``Deadline`` (connect, send, headers and body share one budget).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import select
import socket
import ssl
import threading
import time
from typing import Any

import httpx

__all__ = ["STALE_ERRORS", "Connection", "Deadline", "budget", "connect", "timeout_message"]

_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
STALE_ERRORS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
"""A reused connection the server closed meanwhile: the request may be retried on a fresh one."""


class Deadline:
    """Seconds left until a fixed point in time; ``None`` budget means no deadline."""

    def __init__(self, budget: float | None) -> None:
        self.at = None if budget is None else time.monotonic() + budget

    def remaining(self) -> float | None:
        if self.at is None:
            return None
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("request deadline passed")
        return left


class _DeadlineReader(io.RawIOBase):
    """The socket's raw reader, every read bounded by what is left of the request's deadline."""

    def __init__(self, sock: socket.socket, connection: Connection) -> None:
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)
        self._connection = connection

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(self._connection.deadline.remaining())
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """What ``HTTPResponse`` is given instead of the socket: it only calls ``makefile``."""

    def __init__(self, sock: socket.socket, connection: Connection) -> None:
        self._sock = sock
        self._connection = connection

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._connection))


class Connection(http.client.HTTPConnection):
    """One keep-alive connection; its responses read under the current request's deadline."""

    deadline = Deadline(None)
    reused = False

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext | None) -> None:
        super().__init__(host, port)
        self._ssl_context = ssl_context
        self._abort_lock = threading.Lock()
        self.aborted = False
        connection = self

        class Response(http.client.HTTPResponse):
            def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
                super().__init__(_DeadlineSocket(sock, connection), *args, **kwargs)  # type: ignore[arg-type]

        self.response_class = Response

    def connect(self) -> None:
        super().connect()
        with self._abort_lock:  # an abort while connecting, before ``sock`` was set, counts
            if self.aborted:
                raise ConnectionAbortedError("cancelled: the run was interrupted")
        if self._ssl_context is not None:
            self.sock = self._ssl_context.wrap_socket(self.sock, server_hostname=self.host)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def abort(self) -> None:
        """End the request in flight from another thread: its reads and writes fail at once,
        and a connection still being made is refused once made."""
        with self._abort_lock:
            self.aborted = True
            sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def arm_quickack(self) -> None:
        if _QUICKACK is not None and self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)

    def is_stale(self) -> bool:
        """Readable while idle means the server closed it (or sent what nobody asked for)."""
        if self.sock is None:
            return True
        try:
            poller = select.poll()
            poller.register(self.sock, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True


def budget(timeouts: dict[str, float | None]) -> float | None:
    """The whole request's budget: the largest of the connect, write and read timeouts."""
    values = [timeouts.get(key) for key in ("connect", "write", "read")]
    given = [value for value in values if value is not None]
    return max(given) if given else None


def connect(
    connection: Connection, request: httpx.Request, deadline: Deadline, limit: float | None
) -> None:
    try:
        left = deadline.remaining()
        connection.timeout = left if limit is None or left is None else min(limit, left)
        connection.connect()
    except TimeoutError as exc:
        connection.close()
        raise httpx.ConnectTimeout(timeout_message(exc), request=request) from exc
    except OSError as exc:
        connection.close()
        raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc


def timeout_message(exc: BaseException) -> str:
    return str(exc) or "timed out"
