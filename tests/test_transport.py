"""The lean transport against real loopback servers: keep-alive, deadlines, caps, errors, httpx on top."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from recovery_plugin.http.capture import Target
from recovery_plugin.http.fetch import fetch
from recovery_plugin.http.transport import LeanTransport
from recovery_plugin.http.wire import Connection
from recovery_plugin.redact import Redactor

BODY = json.dumps({"status": "ok", "matchup_id": "20260603|서울"}, ensure_ascii=False).encode()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.connections: list[int] = []
        """The client port of every connection accepted, in order."""
        self.requests: list[tuple[int, str, str]] = []
        """(client port, method, path) of every request read."""
        self.lock = threading.Lock()
        self.closed = threading.Semaphore(0)
        """Released once for every connection that ended (the client closed it or we did)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections.append(self.client_address[1])

    def finish(self) -> None:
        super().finish()
        self.server.closed.release()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def record(self) -> int:
        """Note this request; return how many requests this connection has carried, this one included."""
        with self.server.lock:
            self.server.requests.append((self.client_address[1], self.command, self.path))
            return sum(1 for port, _, _ in self.server.requests if port == self.client_address[1])

    def send(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        self.record()
        self.send(200, BODY, Content_Type="application/json", X_Path=self.path)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(length)
        self.record()
        self.send(200, data)


@pytest.fixture
def serve() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], Server]]:
    started: list[Server] = []

    def start(handler: type[BaseHTTPRequestHandler] = Handler) -> Server:
        server = Server(handler)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def client(**kwargs: Any) -> httpx.Client:
    transport = LeanTransport(max_body_bytes=kwargs.pop("max_body_bytes", None))
    return httpx.Client(transport=transport, timeout=kwargs.pop("timeout", 5.0), **kwargs)


# --- the ordinary path -----------------------------------------------------------------------


def test_a_get_returns_status_headers_and_body(serve: Callable[..., Server]) -> None:
    server = serve()
    with client() as http:
        response = http.get(server.url + "/api/v1/matchups/20260603%7C%EC%84%9C%EC%9A%B8?x=1")
    assert response.status_code == 200
    assert response.reason_phrase == "OK"
    assert response.http_version == "HTTP/1.1"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-path"] == "/api/v1/matchups/20260603%7C%EC%84%9C%EC%9A%B8?x=1"
    assert response.json()["matchup_id"] == "20260603|서울"


def test_keep_alive_reuses_one_connection(serve: Callable[..., Server]) -> None:
    server = serve()
    with client() as http:
        statuses = [http.get(server.url + f"/health?n={n}").status_code for n in range(5)]
    assert statuses == [200] * 5
    assert len(server.connections) == 1
    assert len(server.requests) == 5


def test_a_post_body_reaches_the_server(serve: Callable[..., Server]) -> None:
    server = serve()
    with client() as http:
        response = http.post(server.url + "/echo", content=b"payload")
        streamed = http.post(server.url + "/echo", content=iter([b"pay", b"load"]))
    assert response.content == b"payload"
    assert streamed.content == b"payload"


def test_concurrent_requests_share_the_pool_safely(serve: Callable[..., Server]) -> None:
    server = serve()
    with client() as http, ThreadPoolExecutor(max_workers=8) as pool:
        bodies = list(pool.map(lambda n: http.get(server.url + f"/n/{n}").json(), range(200)))
    assert all(body["status"] == "ok" for body in bodies)
    assert len(server.requests) == 200
    assert len(server.connections) <= 8


# --- connections the server closes -------------------------------------------------------------


class ClosesAfterEachResponse(Handler):
    """Answers, then closes the connection without having said ``Connection: close``."""

    def do_GET(self) -> None:
        super().do_GET()
        self.close_connection = True


class DropsSecondRequest(Handler):
    """Reads the second request on a connection and closes it without an answer."""

    def do_GET(self) -> None:
        if self.record() >= 2:
            self.close_connection = True
            return
        self.send(200, BODY)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.do_GET()


def test_a_connection_closed_between_requests_is_replaced(serve: Callable[..., Server]) -> None:
    server = serve(ClosesAfterEachResponse)
    with client() as http:
        statuses = [http.get(server.url + "/health").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert len(server.connections) == 3


def test_a_reused_connection_dropped_mid_request_is_retried_once(
    serve: Callable[..., Server],
) -> None:
    server = serve(DropsSecondRequest)
    with client() as http:
        first = http.get(server.url + "/a")
        second = http.get(server.url + "/b")
    assert (first.status_code, second.status_code) == (200, 200)
    assert len(server.connections) == 2
    assert [path for _, _, path in server.requests] == ["/a", "/b", "/b"]


def test_a_non_idempotent_request_is_not_retried(serve: Callable[..., Server]) -> None:
    server = serve(DropsSecondRequest)
    with client() as http:
        http.post(server.url + "/a", content=b"1")
        with pytest.raises(httpx.RemoteProtocolError, match="closed the connection"):
            http.post(server.url + "/b", content=b"2")
    assert [path for _, _, path in server.requests] == ["/a", "/b"]


class NeverAnswers(Handler):
    def do_GET(self) -> None:
        self.record()
        self.close_connection = True


def test_a_fresh_connection_closed_without_an_answer_fails(serve: Callable[..., Server]) -> None:
    server = serve(NeverAnswers)
    with client() as http, pytest.raises(httpx.RemoteProtocolError, match="without a response"):
        http.get(server.url + "/health")
    assert len(server.requests) == 1


class ShortBody(Handler):
    def do_GET(self) -> None:
        self.record()
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"only ten b")
        self.close_connection = True


def test_a_body_cut_short_is_a_protocol_error(serve: Callable[..., Server]) -> None:
    server = serve(ShortBody)
    with client() as http, pytest.raises(httpx.RemoteProtocolError, match="90 bytes before"):
        http.get(server.url + "/health")


# --- bodies ------------------------------------------------------------------------------------


class Chunked(Handler):
    def do_GET(self) -> None:
        self.record()
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (b'{"status": ', b'"ok", ', b'"n": 1}'):
            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


def test_a_chunked_body_is_decoded_and_the_connection_kept(serve: Callable[..., Server]) -> None:
    server = serve(Chunked)
    with client() as http:
        bodies = [http.get(server.url + "/c").json() for _ in range(2)]
    assert bodies == [{"status": "ok", "n": 1}] * 2
    assert len(server.connections) == 1


class Huge(Handler):
    def do_GET(self) -> None:
        if self.record() == 1 and self.path == "/huge":
            self.send(200, b"x" * (1024 * 1024))
        else:
            self.send(200, BODY)


def test_a_body_over_the_cap_stops_at_cap_plus_one_byte(serve: Callable[..., Server]) -> None:
    server = serve(Huge)
    with client(max_body_bytes=1000) as http:
        with http.stream("GET", server.url + "/huge") as response:
            received = b"".join(response.iter_bytes())
        after = http.get(server.url + "/small")
    assert received == b"x" * 1001
    assert after.json()["status"] == "ok"
    assert len(server.connections) == 2  # the capped connection was dropped, not reused


def test_a_body_within_the_cap_is_whole(serve: Callable[..., Server]) -> None:
    server = serve()
    with client(max_body_bytes=len(BODY)) as http:
        assert http.get(server.url + "/x").content == BODY


class NoContent(Handler):
    def do_GET(self) -> None:
        self.record()
        self.send_response(204)
        self.end_headers()


def test_head_and_empty_bodies_keep_the_connection(serve: Callable[..., Server]) -> None:
    server = serve()
    with client() as http:
        head = http.head(server.url + "/health")
        get = http.get(server.url + "/health")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(BODY))
    assert head.content == b""
    assert get.content == BODY
    assert len(server.connections) == 1


def test_a_204_has_no_body(serve: Callable[..., Server]) -> None:
    server = serve(NoContent)
    with client() as http:
        responses = [http.get(server.url + "/empty") for _ in range(2)]
    assert [(r.status_code, r.content) for r in responses] == [(204, b"")] * 2
    assert len(server.connections) == 1


# --- deadlines and errors -----------------------------------------------------------------------


class Drip(Handler):
    """A complete, valid response, one byte every 50 ms (about 2.5 s in all)."""

    def do_GET(self) -> None:
        self.record()
        body = b'{"status": "ok", "drip": 1}'
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        start = 0 if self.path == "/head" else len(head)
        self.wfile.write(head[:start])
        for byte in head[start:] + body:
            time.sleep(0.05)
            try:
                self.wfile.write(bytes([byte]))
            except OSError:
                return


@pytest.mark.parametrize("path", ["/head", "/body"])
def test_a_dripping_server_hits_the_whole_request_deadline(
    serve: Callable[..., Server], path: str
) -> None:
    # Each byte arrives well within the timeout: only a deadline for the whole request stops it.
    server = serve(Drip)
    with client(timeout=0.5) as http, pytest.raises(httpx.ReadTimeout):
        http.get(server.url + path)


def test_a_dripping_body_read_as_a_stream_hits_the_deadline(serve: Callable[..., Server]) -> None:
    server = serve(Drip)
    with (
        client(timeout=httpx.Timeout(0.5)) as http,
        http.stream("GET", server.url + "/body") as response,
    ):
        assert response.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            response.read()


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with client() as http, pytest.raises(httpx.ConnectError):
        http.get(f"http://127.0.0.1:{port}/health")


def test_an_unsupported_scheme_is_refused() -> None:
    with client() as http, pytest.raises(httpx.UnsupportedProtocol):
        http.get("ftp://127.0.0.1/x")


# --- httpx on top --------------------------------------------------------------------------------


class Features(Handler):
    def do_GET(self) -> None:
        self.record()
        if self.path == "/loop":
            self.send(302, b"", Location="/loop")
        elif self.path == "/old":
            self.send(301, b"", Location="/gz")
        elif self.path == "/gz":
            self.send(200, gzip.compress(BODY), Content_Encoding="gzip")
        else:
            self.send(200, BODY)


def test_httpx_follows_redirects_and_decodes_gzip(serve: Callable[..., Server]) -> None:
    server = serve(Features)
    with client(follow_redirects=True) as http:
        response = http.get(server.url + "/old")
    assert response.url.path == "/gz"
    assert [r.status_code for r in response.history] == [301]
    assert response.json()["status"] == "ok"
    assert len(server.connections) == 1


def test_httpx_stops_a_redirect_loop(serve: Callable[..., Server]) -> None:
    server = serve(Features)
    with (
        client(follow_redirects=True, max_redirects=3) as http,
        pytest.raises(httpx.TooManyRedirects),
    ):
        http.get(server.url + "/loop")
    assert len(server.requests) == 4


def test_the_capture_reports_a_capped_body_as_truncated(serve: Callable[..., Server]) -> None:
    server = serve(Huge)
    with client(max_body_bytes=1000) as http:
        capture = fetch(
            http, server.url, Target("summary", "/huge"), max_body=1000, redactor=Redactor()
        )
        after = fetch(
            http, server.url, Target("health", "/health"), max_body=1000, redactor=Redactor()
        )
    assert (capture.status, capture.truncated, capture.body_bytes) == (200, True, 1000)
    assert after.error is None and after.body == json.loads(BODY)


def test_closing_the_client_closes_its_idle_connections(serve: Callable[..., Server]) -> None:
    server = serve()
    with client() as http:
        http.get(server.url + "/health")
        http.get(server.url + "/health")
        assert not server.closed.acquire(timeout=0.2)  # still open: kept alive between requests
    assert server.closed.acquire(timeout=5.0)  # the server saw the close
    assert len(server.connections) == 1


# --- abort (an interrupted run) ------------------------------------------------------------------


class HoldsSecondRequest(Handler):
    """Answers the first request on a connection; holds any later one until the test ends."""

    release = threading.Event()

    def do_GET(self) -> None:
        if self.record() >= 2:
            self.release.wait(10)
            self.close_connection = True
            return
        self.send(200, BODY)


def test_abort_cancels_a_request_in_flight_on_a_reused_connection_without_retrying(
    serve: Callable[..., Server],
) -> None:
    server = serve(HoldsSecondRequest)
    transport = LeanTransport()
    errors: list[BaseException] = []
    try:
        with httpx.Client(transport=transport, timeout=30.0) as http:
            http.get(server.url + "/a")

            def held() -> None:
                try:
                    http.get(server.url + "/b")
                except httpx.HTTPError as exc:
                    errors.append(exc)

            worker = threading.Thread(target=held)
            worker.start()
            deadline = time.monotonic() + 5
            while len(server.requests) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            started = time.monotonic()
            transport.abort()
            worker.join(5)
            assert not worker.is_alive()
            assert time.monotonic() - started < 2
    finally:
        HoldsSecondRequest.release.set()
    assert [type(exc) for exc in errors] == [httpx.ConnectError]
    assert "interrupted" in str(errors[0])
    assert [path for _, _, path in server.requests] == ["/a", "/b"]  # the reused one: no retry
    assert len(server.connections) == 1


def test_after_abort_a_new_request_is_refused_without_connecting(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    transport = LeanTransport()
    transport.abort()
    with (
        httpx.Client(transport=transport) as http,
        pytest.raises(httpx.ConnectError, match="interrupted"),
    ):
        http.get(server.url + "/health")
    assert server.connections == []


def test_a_connection_aborted_while_it_was_being_made_is_refused_once_made(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    connection = Connection("127.0.0.1", server.server_address[1], None)
    connection.abort()  # before ``sock`` exists: the moment a plain socket shutdown misses
    with pytest.raises(ConnectionAbortedError, match="interrupted"):
        connection.connect()
    connection.close()
