"""A failed request names its real cause: DNS, TLS, refused, reset — not all "connection refused"."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from recovery_plugin.config import CaptureSpec, EndpointSpec
from recovery_plugin.http.capture import Capture, Target
from recovery_plugin.http.checks import evaluate
from recovery_plugin.http.fetch import capture_all
from recovery_plugin.redact import Redactor

SPEC = CaptureSpec(timeout=5.0, concurrency=1)
HEALTH = EndpointSpec(name="health", path="/health")


def _capture(base_url: str) -> Capture:
    return capture_all(base_url, [Target("health", "/health")], SPEC, redactor=Redactor())[
        ("health", None)
    ]


@pytest.fixture
def plain_http_server() -> Iterator[int]:
    """A loopback server that answers every connection with a plain-HTTP 200."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2.0)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.fixture
def resetting_server() -> Iterator[int]:
    """A loopback server that reads the request, then resets the connection (RST, no answer)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(2.0)
            with contextlib.suppress(OSError):
                conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_a_host_that_does_not_resolve_is_a_dns_failure() -> None:
    capture = _capture("http://no-such-host.invalid")

    assert capture.error is not None
    assert capture.error["kind"] == "dns_failure"
    (reason,) = evaluate(HEALTH, capture)
    assert reason.startswith("GET /health: the host name does not resolve (DNS): ")
    assert "no-such-host.invalid" in reason
    assert "refused" not in reason


def test_https_against_a_plain_http_server_is_a_tls_failure(plain_http_server: int) -> None:
    capture = _capture(f"https://127.0.0.1:{plain_http_server}")

    assert capture.error is not None
    assert capture.error["kind"] == "tls_error"
    (reason,) = evaluate(HEALTH, capture)
    assert reason.startswith("GET /health: TLS handshake failed")
    assert "plain HTTP" in reason
    assert "refused" not in reason


def test_a_closed_port_stays_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    capture = _capture(f"http://127.0.0.1:{port}")

    assert capture.error is not None
    assert capture.error["kind"] == "connection_refused"
    (reason,) = evaluate(HEALTH, capture)
    assert reason.startswith("GET /health: connection refused (is the service up?): ")


def test_a_server_that_resets_the_connection_is_a_reset(resetting_server: int) -> None:
    capture = _capture(f"http://127.0.0.1:{resetting_server}")

    assert capture.error is not None
    assert capture.error["kind"] == "connection_reset"
    (reason,) = evaluate(HEALTH, capture)
    assert reason.startswith(
        "GET /health: the server reset the connection before a complete response: "
    )
    assert "refused" not in reason
