"""Webhook notifications, against a real loopback receiver: delivery, retries, failures, masking."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from recovery_plugin.config.notify import WebhookSpec, parse_notify, required_env
from recovery_plugin.errors import ConfigError
from recovery_plugin.redact import Redactor
from recovery_plugin.report.notify import send_notifications

REPORT_PATH = "/srv/ops/20261202T101500Z-abc123/recovery_bundle_report.json"
FAILED_ID = "20260603|광역자치단체장|11-000"


def failed_report(**changes: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "run_id": "20261202T101500Z-abc123",
        "status": "failed",
        "mode": "apply",
        "api_base": "http://127.0.0.1:8100",
        "duration_s": 12.5,
        "steps": [
            {"name": "ingest", "status": "success", "exit_code": 0},
            {"name": "reprocess", "matchup_id": FAILED_ID, "status": "failed", "exit_code": 1},
            {"name": "capture", "status": "failed", "exit_code": 1},
        ],
        "verification": {
            "summary": {"passed": 2, "failed": 1, "error": 0, "skipped": 0, "total": 3},
            "tests": [
                {"nodeid": "recovery::health", "outcome": "passed", "message": None},
                {
                    "nodeid": "recovery::summary",
                    "outcome": "failed",
                    "message": "expected 200, got 500\nbody: {...}",
                },
            ],
        },
        "ops_checklist": [
            "preflight: DATABASE_URL ok",
            f"rollback-guide: reprocess failed for 1 matchup id(s): {FAILED_ID}.",
            "rollback-guide: capture failed for summary.",
        ],
    }
    report.update(changes)
    return report


@dataclass
class Receiver:
    """A loopback webhook receiver answering from a script of (status, body) replies; the last
    reply repeats. ``hold`` makes it wait (a slow receiver) until the test ends."""

    replies: list[tuple[int, str]] = field(default_factory=lambda: [(200, "ok")])
    hold: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    def url(self, path: str = "/hooks/T000/B000/XXXXSECRETPATH") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self) -> list[Any]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("utf-8")
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if state.hold:
                state.released.wait(10)
            index = min(len(state.requests), len(state.replies)) - 1
            status, text = state.replies[index]
            data = text.encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    state.released.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def hook(url: str, **changes: Any) -> WebhookSpec:
    values: dict[str, Any] = {"key": "notify.webhooks[0]", "url": url, "backoff": 0.0}
    return WebhookSpec(**(values | changes))


def send(
    specs: list[WebhookSpec],
    report: dict[str, Any] | None = None,
    *,
    environ: dict[str, str] | None = None,
    redactor: Redactor | None = None,
) -> list[dict[str, Any]]:
    return send_notifications(
        report or failed_report(),
        REPORT_PATH,
        specs,
        redactor or Redactor(),
        environ or {},
        sleep=lambda seconds: None,
    )


def test_a_failed_run_posts_its_summary_once(receiver: Receiver) -> None:
    (record,) = send([hook(receiver.url())])

    assert record["delivered"] is True
    assert record["attempts"] == 1
    assert record["http_status"] == 200
    assert record["error"] is None
    assert record["event"] == "failed"
    (payload,) = receiver.bodies()
    assert payload["status"] == "failed"
    assert payload["run_id"] == "20261202T101500Z-abc123"
    assert payload["failed_steps"] == [
        f"reprocess [{FAILED_ID}] (failed, exit 1)",
        "capture (failed, exit 1)",
    ]
    assert payload["failed_checks"] == ["recovery::summary: expected 200, got 500"]
    assert payload["guides"][0].startswith("rollback-guide: reprocess failed")
    assert payload["report_path"] == REPORT_PATH
    assert receiver.requests[0]["headers"]["Content-Type"] == "application/json"


def test_the_recorded_url_hides_the_path_that_is_the_secret(receiver: Receiver) -> None:
    (record,) = send([hook(receiver.url())])

    assert record["url"] == f"http://127.0.0.1:{receiver.port}/***"
    assert "XXXXSECRETPATH" not in json.dumps(record)


def test_a_500_then_a_200_is_delivered_on_the_retry(receiver: Receiver) -> None:
    receiver.replies = [(500, "busy"), (200, "ok")]

    (record,) = send([hook(receiver.url(), retries=2)])

    assert record["delivered"] is True
    assert record["attempts"] == 2
    assert record["http_status"] == 200
    assert len(receiver.requests) == 2


def test_a_receiver_that_always_fails_gets_every_attempt_then_a_failure_record(
    receiver: Receiver,
) -> None:
    receiver.replies = [(500, "internal error")]

    (record,) = send([hook(receiver.url(), retries=2)])

    assert record["delivered"] is False
    assert record["attempts"] == 3
    assert record["http_status"] == 500
    assert record["error"] == "HTTP 500: internal error"
    assert len(receiver.requests) == 3


def test_a_client_error_is_not_retried(receiver: Receiver) -> None:
    receiver.replies = [(400, "invalid_payload")]

    (record,) = send([hook(receiver.url(), retries=3)])

    assert (record["delivered"], record["attempts"]) == (False, 1)
    assert record["error"] == "HTTP 400: invalid_payload"


def test_a_refused_connection_is_retried_then_recorded() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    (record,) = send([hook(f"http://127.0.0.1:{port}/hook", retries=1)])

    assert record["delivered"] is False
    assert record["attempts"] == 2
    assert record["http_status"] is None
    assert record["error"].startswith("connection refused")


def test_a_slow_receiver_is_cut_off_at_the_timeout(receiver: Receiver) -> None:
    receiver.hold = True

    (record,) = send([hook(receiver.url(), timeout=0.2, retries=0)])

    assert record["delivered"] is False
    assert record["attempts"] == 1
    assert record["error"] == "timeout: no answer within 0.2s"


def test_only_webhooks_whose_on_lists_the_status_are_posted(receiver: Receiver) -> None:
    on_failure = hook(receiver.url("/failures"), on=("failed",))
    on_success = hook(receiver.url("/successes"), key="notify.webhooks[1]", on=("success",))

    assert send([on_failure], failed_report(status="success")) == []
    assert receiver.requests == []
    (record,) = send([on_failure, on_success], failed_report(status="success"))
    assert record["webhook"] == "notify.webhooks[1]"
    assert [r["path"] for r in receiver.requests] == ["/successes"]
    assert send([on_failure, on_success], failed_report(status="dry-run")) == []


def test_the_slack_payload_is_one_text_field(receiver: Receiver) -> None:
    send([hook(receiver.url(), format="slack")])

    (payload,) = receiver.bodies()
    assert list(payload) == ["text"]
    lines = payload["text"].splitlines()
    assert lines[0].startswith(
        "recovery-bundle apply: failed in 12.5s (run 20261202T101500Z-abc123"
    )
    assert (
        lines[1]
        == f"failed steps: reprocess [{FAILED_ID}] (failed, exit 1); capture (failed, exit 1)"
    )
    assert lines[2] == "failed checks: recovery::summary: expected 200, got 500"
    assert lines[3].startswith("rollback-guide: reprocess failed")
    assert lines[-1] == f"report: {REPORT_PATH}"


def test_long_lists_are_cut_short_in_the_summary(receiver: Receiver) -> None:
    steps = [
        {"name": "reprocess", "matchup_id": f"id-{i}", "status": "failed", "exit_code": 1}
        for i in range(8)
    ]
    send([hook(receiver.url(), format="slack")], failed_report(steps=steps))

    (payload,) = receiver.bodies()
    assert "reprocess [id-4] (failed, exit 1); (+3 more)" in payload["text"]
    assert "id-5" not in payload["text"]


def test_a_header_secret_is_sent_but_never_recorded(receiver: Receiver) -> None:
    token = "hook-token-4f9a1c"
    receiver.replies = [(500, f"rejected token {token}")]
    spec = hook(receiver.url(), headers={"Authorization": "Bearer {env:HOOK_AUTH}"}, retries=0)

    (record,) = send([spec], environ={"HOOK_AUTH": token})

    assert receiver.requests[0]["headers"]["Authorization"] == f"Bearer {token}"
    assert token not in json.dumps(record)
    assert record["error"] == "HTTP 500: rejected token ***"


def test_a_url_from_the_environment_is_resolved_and_masked(receiver: Receiver) -> None:
    secret_url = receiver.url("/services/T1/B2/secretsecret")

    (record,) = send([hook("{env:SLACK_WEBHOOK_URL}")], environ={"SLACK_WEBHOOK_URL": secret_url})

    assert record["delivered"] is True
    assert receiver.requests[0]["path"] == "/services/T1/B2/secretsecret"
    assert "secretsecret" not in json.dumps(record)


def test_a_missing_secret_is_a_failure_record_and_nothing_is_sent(receiver: Receiver) -> None:
    spec = hook(receiver.url(), headers={"Authorization": "Bearer {env:HOOK_AUTH}"})

    (record,) = send([spec], environ={})

    assert record["delivered"] is False
    assert record["attempts"] == 0
    assert record["error"] == (
        "notify.webhooks[0].headers.Authorization: environment variable HOOK_AUTH is not set"
    )
    assert receiver.requests == []


def test_the_payload_passes_the_redactor(receiver: Receiver) -> None:
    report = failed_report(api_base="http://user:pa55word@127.0.0.1:8100")
    report["ops_checklist"].append("rollback-guide: ingest token db-secret-123 leaked")

    send([hook(receiver.url())], report, redactor=Redactor(["db-secret-123"]))

    body = receiver.requests[0]["body"]
    assert "pa55word" not in body
    assert "db-secret-123" not in body
    assert "rollback-guide: ingest token *** leaked" in receiver.bodies()[0]["guides"]


def test_every_webhook_gets_its_own_record_even_when_one_fails(receiver: Receiver) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"

    records = send([hook(dead, retries=0), hook(receiver.url(), key="notify.webhooks[1]")])

    assert [r["delivered"] for r in records] == [False, True]


# --- configuration ---------------------------------------------------------------------------


def test_a_valid_notify_table_is_parsed_with_defaults() -> None:
    (slack, plain) = parse_notify(
        {
            "webhooks": [
                {"url": "{env:SLACK_URL}", "format": "slack", "on": ["failed", "success"]},
                {
                    "url": "https://ops.example.com/hook",
                    "headers": {"X-Token": "{env:OPS_TOKEN}"},
                    "timeout": 3,
                    "retries": 0,
                },
            ]
        },
        "recovery.toml",
    )

    assert (slack.key, slack.format, slack.on) == (
        "notify.webhooks[0]",
        "slack",
        ("failed", "success"),
    )
    assert (plain.format, plain.on, plain.timeout, plain.retries) == (
        "json",
        ("failed", "interrupted"),
        3.0,
        0,
    )
    assert required_env([slack, plain]) == ["SLACK_URL", "OPS_TOKEN"]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ([], "recovery.toml: notify: must be a table, got an array"),
        ({"hooks": []}, "recovery.toml: notify.hooks: unknown key (known keys: webhooks)"),
        (
            {"webhooks": {}},
            "recovery.toml: notify.webhooks: must be an array of tables, got a table",
        ),
        ({"webhooks": [{}]}, "recovery.toml: notify.webhooks[0].url: is required"),
        (
            {"webhooks": [{"url": "ftp://x/y"}]},
            "recovery.toml: notify.webhooks[0].url: must be an http:// or https:// URL with a host",
        ),
        (
            {"webhooks": [{"url": "http://h/x", "on": ["failed", "done"]}]},
            "recovery.toml: notify.webhooks[0].on[1]: unknown run status 'done' (known: failed, success, interrupted)",
        ),
        (
            {"webhooks": [{"url": "http://h/x", "on": []}]},
            "recovery.toml: notify.webhooks[0].on: must be a non-empty array of failed, success, interrupted",
        ),
        (
            {"webhooks": [{"url": "http://h/x", "format": "teams"}]},
            "recovery.toml: notify.webhooks[0].format: must be 'slack' or 'json', got 'teams'",
        ),
        (
            {"webhooks": [{"url": "http://h/x", "timeout": 0}]},
            "recovery.toml: notify.webhooks[0].timeout: must be a finite number greater than 0, got 0",
        ),
        (
            {"webhooks": [{"url": "http://h/x", "retries": -1}]},
            "recovery.toml: notify.webhooks[0].retries: must be an integer >= 0, got -1",
        ),
        (
            {"webhooks": [{"url": "http://h/x", "headers": {"A": 1}}]},
            "recovery.toml: notify.webhooks[0].headers.A: must be a string, got an integer",
        ),
        (
            {"webhooks": [{"url": "http://h/x", "headers": {"A": "{env:1BAD}"}}]},
            "recovery.toml: notify.webhooks[0].headers.A: bad environment variable name in {env:1BAD}",
        ),
        (
            {"webhooks": [{"url": "http://h/x", "method": "PUT"}]},
            "recovery.toml: notify.webhooks[0].method: unknown key (known keys: backoff, format,"
            " headers, on, retries, timeout, url)",
        ),
    ],
)
def test_a_bad_notify_table_names_the_dotted_key(table: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_notify(table, "recovery.toml")
    assert caught.value.message == message
