"""Endpoint capture: every failure becomes data on the capture, bodies are bounded, secrets masked."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from recovery_plugin.config import CaptureSpec, EndpointSpec
from recovery_plugin.http.batch import wait_ready
from recovery_plugin.http.capture import Capture, Target
from recovery_plugin.http.checks import evaluate
from recovery_plugin.http.fetch import capture_all, fetch, make_client
from recovery_plugin.redact import MASK, Redactor

KOREAN_ID = "2026-서울시장|여론조사/A"
TOKEN = "tok-9f8e7d6c5b4a"
BASE = "http://svc.test"

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, *, max_redirects: int = 5) -> httpx.Client:
    return httpx.Client(
        transport=httpx.MockTransport(handler), follow_redirects=True, max_redirects=max_redirects
    )


def _fetch(
    handler: Handler,
    target: Target | None = None,
    *,
    max_body: int = 1024 * 1024,
    redactor: Redactor | None = None,
    base_url: str = BASE,
    max_redirects: int = 5,
) -> Capture:
    with _client(handler, max_redirects=max_redirects) as client:
        return fetch(
            client,
            base_url,
            target or Target("health", "/health"),
            max_body=max_body,
            redactor=redactor or Redactor(),
        )


# --- successful responses ------------------------------------------------------------------


def test_a_json_response_is_captured_with_status_headers_and_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "ok"}, headers={"X-Version": "1.2"})

    capture = _fetch(handler)

    assert capture.name == "health"
    assert capture.url == f"{BASE}/health"
    assert capture.path == "/health"
    assert capture.method == "GET"
    assert capture.status == 200
    assert capture.body == {"status": "ok"}
    assert capture.body_bytes == len(b'{"status":"ok"}')
    assert capture.headers["x-version"] == "1.2"
    assert capture.truncated is False
    assert capture.error is None
    assert capture.decode_error is None
    assert capture.captured_at
    assert capture.elapsed_s >= 0
    json.dumps(capture.to_dict())  # the capture file is plain JSON


def test_a_korean_matchup_id_with_pipe_and_slash_is_one_encoded_path_segment() -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return httpx.Response(200, json={"matchup_id": KOREAN_ID})

    target = Target("matchup", "/api/v1/matchups/{matchup_id}", KOREAN_ID)
    capture = _fetch(handler, target)

    segment = "%EC%84%9C%EC%9A%B8%EC%8B%9C%EC%9E%A5%7C%EC%97%AC%EB%A1%A0%EC%A1%B0%EC%82%AC%2FA"
    assert seen == [f"/api/v1/matchups/2026-{segment}".encode()]
    assert capture.matchup_id == KOREAN_ID
    assert capture.path == f"/api/v1/matchups/2026-{segment}"
    assert capture.body == {"matchup_id": KOREAN_ID}
    spec = EndpointSpec(
        name="matchup",
        path="/api/v1/matchups/{matchup_id}",
        expect_json={"matchup_id": "{matchup_id}"},
    )
    assert evaluate(spec, capture) == []


def test_an_error_status_with_an_empty_body_has_no_body_and_no_decode_error() -> None:
    capture = _fetch(lambda request: httpx.Response(500))

    assert capture.status == 500
    assert capture.body is None
    assert capture.decode_error is None
    assert evaluate(EndpointSpec(name="health", path="/health"), capture) == [
        "GET /health: status mismatch: expected 200, got 500"
    ]


def test_a_204_no_content_response_passes_an_endpoint_expecting_204() -> None:
    capture = _fetch(lambda request: httpx.Response(204))

    assert capture.status == 204
    assert capture.decode_error is None
    assert evaluate(EndpointSpec(name="health", path="/health", expect_status=204), capture) == []


def test_a_redirect_is_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(307, headers={"Location": "/healthz"})
        return httpx.Response(200, json={"status": "ok"})

    capture = _fetch(handler)

    assert capture.status == 200
    assert capture.body == {"status": "ok"}


# --- bodies that are not what they should be -----------------------------------------------


def test_malformed_json_is_kept_as_text_with_a_decode_error() -> None:
    capture = _fetch(lambda request: httpx.Response(200, content=b'{"status": "ok",'))

    assert capture.status == 200
    assert capture.body == '{"status": "ok",'
    assert capture.decode_error is not None
    assert capture.decode_error["kind"] == "invalid_json"
    assert "body is not JSON" in capture.decode_error["message"]
    assert "line 1" in capture.decode_error["message"]
    reasons = evaluate(EndpointSpec(name="health", path="/health"), capture)
    assert reasons == [f"GET /health: {capture.decode_error['message']}"]


def test_an_html_error_page_with_status_200_is_not_json() -> None:
    capture = _fetch(lambda request: httpx.Response(200, text="<html>maintenance</html>"))

    assert capture.decode_error is not None
    assert capture.decode_error["kind"] == "invalid_json"
    assert capture.body == "<html>maintenance</html>"


def test_a_non_utf8_body_is_reported_with_the_byte_offset() -> None:
    body = b'{"name": "\xbc\xad\xbf\xef"}'  # EUC-KR bytes, not UTF-8
    capture = _fetch(lambda request: httpx.Response(200, content=body))

    assert capture.decode_error is not None
    assert capture.decode_error["kind"] == "not_utf8"
    assert "at byte 10" in capture.decode_error["message"]
    assert isinstance(capture.body, str)
    assert capture.body.startswith('{"name": "')
    assert capture.body_bytes == len(body)


def test_a_body_larger_than_the_cap_is_truncated_and_fails_as_too_large() -> None:
    big = json.dumps({"rows": ["x" * 100] * 100}).encode()

    capture = _fetch(lambda request: httpx.Response(200, content=big), max_body=1000)

    assert capture.truncated is True
    assert capture.body_bytes == 1000
    assert isinstance(capture.body, str)
    assert len(capture.body) <= 1000
    assert capture.decode_error is None
    reasons = evaluate(EndpointSpec(name="health", path="/health"), capture)
    assert len(reasons) == 1
    assert "too large" in reasons[0]
    assert "1000 bytes" in reasons[0]


def test_a_streamed_body_is_cut_at_the_cap_without_reading_it_all() -> None:
    produced: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(1000):
            produced.append(i)
            yield b"x" * 1024

    capture = _fetch(lambda request: httpx.Response(200, content=chunks()), max_body=4096)

    assert capture.truncated is True
    assert capture.body_bytes == 4096
    assert len(produced) < 1000


def test_a_body_exactly_at_the_cap_is_complete() -> None:
    body = json.dumps({"k": "v" * 50}).encode()

    capture = _fetch(lambda request: httpx.Response(200, content=body), max_body=len(body))

    assert capture.truncated is False
    assert capture.body == {"k": "v" * 50}


def test_a_utf8_body_cut_inside_a_character_is_truncated_not_undecodable() -> None:
    body = json.dumps({"name": "서울시장 여론조사" * 20}, ensure_ascii=False).encode()
    cap = len(b'{"name": "') + 1  # one byte into the first Hangul syllable

    capture = _fetch(lambda request: httpx.Response(200, content=body), max_body=cap)

    assert capture.truncated is True
    assert capture.decode_error is None, capture.decode_error


# --- transport failures --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind", "reason", "message"),
    [
        (
            httpx.ReadTimeout,
            "timeout",
            "timed out waiting for the response",
            "it broke (no answer within 5s)",
        ),
        (
            httpx.ConnectTimeout,
            "connect_timeout",
            "timed out connecting",
            "it broke (no connection within 5s)",
        ),
        (
            httpx.ConnectError,
            "connection_refused",
            "connection refused (is the service up?)",
            "it broke",
        ),
        (
            httpx.RemoteProtocolError,
            "connection_dropped",
            "the server closed the connection without a complete response",
            "it broke",
        ),
        (httpx.ReadError, "http_error", "request failed", "it broke"),
    ],
)
def test_transport_errors_become_error_kinds(
    exc: type[httpx.TransportError], kind: str, reason: str, message: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("it broke\nsecond line", request=request)

    capture = _fetch(handler)  # httpx's default timeout: 5 s

    assert capture.status is None
    assert capture.error == {"kind": kind, "message": message}
    assert evaluate(EndpointSpec(name="health", path="/health"), capture) == [
        f"GET /health: {reason}: {message}"
    ]


def test_a_redirect_loop_is_too_many_redirects() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(302, headers={"Location": str(request.url)})

    capture = _fetch(handler, max_redirects=3)

    assert capture.error is not None
    assert capture.error["kind"] == "too_many_redirects"
    assert len(calls) == 4
    reasons = evaluate(EndpointSpec(name="health", path="/health"), capture)
    assert reasons[0].startswith("GET /health: too many redirects: ")


# --- secrets -------------------------------------------------------------------------------


def test_secrets_in_headers_bodies_and_urls_are_masked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"debug": {"db": "postgresql://app:pw1234@db/polls", "token": TOKEN}},
            headers={
                "Set-Cookie": "session=abcdef",
                "X-Echo-Authorization": f"Bearer {TOKEN}",
                "X-Trace": f"job={TOKEN}",
            },
        )

    capture = _fetch(handler, redactor=Redactor([TOKEN]), base_url="http://ops:pa55word@svc.test")

    dumped = json.dumps(capture.to_dict())
    assert TOKEN not in dumped
    assert "pa55word" not in dumped
    assert "pw1234" not in dumped
    assert "abcdef" not in dumped
    written = capture.to_dict()  # what is written is masked; the capture itself stays raw
    assert written["url"] == f"http://{MASK}@svc.test/health"
    assert written["headers"]["set-cookie"] == MASK
    assert written["headers"]["x-trace"] == f"job={MASK}"
    assert written["body"] == {"debug": {"db": f"postgresql://{MASK}@db/polls", "token": MASK}}
    assert capture.body["debug"]["token"] == TOKEN


def test_a_secret_in_an_undecodable_body_is_masked() -> None:
    body = f'{{"token": "{TOKEN}", "x": '.encode() + b"\xff"

    capture = _fetch(lambda request: httpx.Response(200, content=body), redactor=Redactor([TOKEN]))

    assert capture.decode_error is not None
    assert TOKEN not in str(capture.to_dict()["body"])


def test_a_secret_in_a_transport_error_message_is_masked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {TOKEN}", request=request)

    capture = _fetch(handler, redactor=Redactor([TOKEN]))

    assert capture.error == {"kind": "connection_refused", "message": f"cannot reach {MASK}"}


# --- capture_all ---------------------------------------------------------------------------


def test_capture_all_fetches_every_target_once_and_keys_by_name_and_matchup() -> None:
    lock = threading.Lock()
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            paths.append(request.url.path)
        if request.url.path == "/broken":
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"path": request.url.path})

    targets = [
        Target("health", "/health"),
        Target("summary", "/api/v1/dashboard/summary"),
        Target("broken", "/broken"),
        Target("matchup", "/api/v1/matchups/{matchup_id}", "m-1"),
        Target("matchup", "/api/v1/matchups/{matchup_id}", KOREAN_ID),
    ]
    done: list[str] = []

    with _client(handler) as client:
        captures = capture_all(
            BASE,
            targets,
            CaptureSpec(concurrency=3),
            redactor=Redactor(),
            client=client,
            on_done=lambda c: done.append(c.name),
        )
        assert not client.is_closed  # a client passed in stays the caller's to close

    assert set(captures) == {t.key for t in targets}
    assert sorted(paths) == sorted(httpx.URL(BASE + t.path).path for t in targets)
    assert sorted(done) == sorted(t.name for t in targets)
    assert captures[("broken", None)].error == {
        "kind": "timeout",
        "message": "slow (no answer within 5s)",
    }
    assert captures[("health", None)].body == {"path": "/health"}
    assert captures[("matchup", KOREAN_ID)].matchup_id == KOREAN_ID
    assert captures[("matchup", "m-1")].body == {"path": "/api/v1/matchups/m-1"}


def test_capture_all_applies_the_body_cap_from_the_spec() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"[" + b"1," * 5000 + b"1]")

    with _client(handler) as client:
        captures = capture_all(
            BASE,
            [Target("big", "/big")],
            CaptureSpec(max_body_bytes=100, concurrency=1),
            redactor=Redactor(),
            client=client,
        )

    assert captures[("big", None)].truncated is True
    assert captures[("big", None)].body_bytes == 100


def test_capture_all_with_no_targets_returns_nothing() -> None:
    with _client(lambda request: httpx.Response(200)) as client:
        assert capture_all(BASE, [], CaptureSpec(), redactor=Redactor(), client=client) == {}


# --- against a real local server -----------------------------------------------------------


class _Service:
    """A tiny HTTP service: answers 503 ``unready`` times, then 200 with a JSON body."""

    def __init__(self, unready: int = 0) -> None:
        self.unready = unready
        self.requests: list[str] = []
        self.lock = threading.Lock()


@pytest.fixture
def service() -> Iterator[tuple[str, _Service]]:
    state = _Service()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.requests.append(self.path)
                unready = len(state.requests) <= state.unready
            status, payload = (503, {"detail": "starting"}) if unready else (200, {"status": "ok"})
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


FAST = CaptureSpec(timeout=2.0, readiness_deadline=3.0, readiness_interval=0.01, concurrency=2)


def test_capture_all_with_its_own_client_against_a_real_server(
    service: tuple[str, _Service],
) -> None:
    base, state = service

    captures = capture_all(
        base + "/",
        [Target("health", "health"), Target("summary", "summary")],
        FAST,
        redactor=Redactor(),
    )

    assert captures[("health", None)].status == 200
    assert captures[("health", None)].body == {"status": "ok"}
    assert sorted(state.requests) == ["/health", "/summary"]


def test_a_closed_port_is_connection_refused(closed_port_url: str) -> None:
    captures = capture_all(
        closed_port_url, [Target("health", "/health")], FAST, redactor=Redactor()
    )

    capture = captures[("health", None)]
    assert capture.status is None
    assert capture.error is not None
    assert capture.error["kind"] == "connection_refused"
    reasons = evaluate(EndpointSpec(name="health", path="/health"), capture)
    assert reasons[0].startswith("GET /health: connection refused (is the service up?): ")


def test_wait_ready_polls_until_the_service_answers_2xx(service: tuple[str, _Service]) -> None:
    base, state = service
    state.unready = 2

    readiness = wait_ready(base, "/health", FAST, redactor=Redactor())

    assert readiness.ready is True
    assert readiness.url == f"{base}/health"
    assert [a["outcome"] for a in readiness.attempts] == ["HTTP 503", "HTTP 503", "HTTP 200"]
    assert all(a["at"] for a in readiness.attempts)
    assert readiness.elapsed_s < FAST.readiness_deadline
    assert readiness.to_dict()["deadline_s"] == FAST.readiness_deadline


def test_wait_ready_gives_up_at_the_deadline(service: tuple[str, _Service]) -> None:
    base, state = service
    state.unready = 10_000
    spec = CaptureSpec(timeout=1.0, readiness_deadline=0.4, readiness_interval=0.05)

    start = time.monotonic()
    readiness = wait_ready(base, "/health", spec, redactor=Redactor())

    assert readiness.ready is False
    assert len(readiness.attempts) >= 2
    assert {a["outcome"] for a in readiness.attempts} == {"HTTP 503"}
    assert time.monotonic() - start < 2.5


def test_wait_ready_records_connection_refused(closed_port_url: str) -> None:
    spec = CaptureSpec(timeout=1.0, readiness_deadline=0.2, readiness_interval=0.05)

    readiness = wait_ready(closed_port_url, "/health", spec, redactor=Redactor())

    assert readiness.ready is False
    assert readiness.attempts
    assert all(a["outcome"].startswith("connection_refused: ") for a in readiness.attempts)


def test_wait_ready_stops_when_cancelled(closed_port_url: str) -> None:
    cancel = threading.Event()
    spec = CaptureSpec(timeout=1.0, readiness_deadline=30.0, readiness_interval=0.05)
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    try:
        start = time.monotonic()
        readiness = wait_ready(closed_port_url, "/health", spec, redactor=Redactor(), cancel=cancel)
        elapsed = time.monotonic() - start
    finally:
        timer.cancel()
        timer.join()

    assert readiness.ready is False
    assert elapsed < 3.0


def test_wait_ready_masks_credentials_in_the_url(service: tuple[str, _Service]) -> None:
    base, _ = service
    with_credentials = base.replace("http://", "http://ops:pa55word@")

    readiness = wait_ready(with_credentials, "/health", FAST, redactor=Redactor())

    assert readiness.ready is True
    assert "pa55word" not in json.dumps(readiness.to_dict())


def test_the_capture_client_still_keeps_a_cookie_the_service_sets() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        if request.url.path == "/login":
            return httpx.Response(200, json={}, headers={"Set-Cookie": "session=abc; Path=/"})
        return httpx.Response(200, json={"ok": True})

    with make_client(CaptureSpec(), transport=httpx.MockTransport(handler)) as client:  # type: ignore[arg-type]
        client.get(f"{BASE}/health")
        client.get(f"{BASE}/login")
        client.get(f"{BASE}/health")
        assert dict(client.cookies) == {"session": "abc"}
        client.cookies = {"other": "1"}  # replaced as on any httpx client, still ours
        client.get(f"{BASE}/health")

    assert seen == [None, None, "session=abc", "other=1"]
