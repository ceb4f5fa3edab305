"""``[notify]`` and the OTLP export through the real launcher, against the simulated service and
loopback receivers: what is sent, what is recorded, and that the exit code never changes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.pytest_plugin.fixtures import LAUNCHER_ENV
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID
from recovery_plugin.sim.faults import hang_pid_path

HOOK_TOKEN = "hook-token-0123456789abcdef"
HOOK_PATH = "/hooks/T000/B000/XXXXSECRETPATH"
SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "report.schema.json"


@dataclass
class Webhook:
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)

    def url(self, path: str = HOOK_PATH) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    state = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
            )
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _apply(run_bundle: RunBundle, config: Path, *extra: str, env: dict[str, str]) -> Any:
    args = ("run", "--mode", "apply", "--config", str(config), "--matchup-id", DEFAULT_MATCHUP_ID)
    return run_bundle(*args, *extra, env=env)


def _validate(report: dict[str, Any]) -> None:
    import jsonschema

    jsonschema.validate(report, json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_a_failed_run_is_posted_with_its_header_secret_and_recorded_without_it(
    recovery_sim: RecoverySim, run_bundle: RunBundle, webhook: Webhook, tmp_path: Path
) -> None:
    hook = {
        "url": webhook.url(),
        "on": ["failed"],
        "headers": {"Authorization": "Bearer {env:OPS_HOOK_TOKEN}"},
    }
    sim = recovery_sim(
        faults={"reprocess": {"fail_ids": [DEFAULT_MATCHUP_ID]}}, notify={"webhooks": [hook]}
    )
    copy = tmp_path / "copy.json"

    result = _apply(
        run_bundle, sim.config_path, "--report", str(copy), env={"OPS_HOOK_TOKEN": HOOK_TOKEN}
    )

    assert result.exit_code == 1, result.output
    (request,) = webhook.requests
    assert request["path"] == HOOK_PATH
    assert request["headers"]["Authorization"] == f"Bearer {HOOK_TOKEN}"
    assert request["body"]["status"] == "failed"
    assert request["body"]["run_id"] == result.report["run_id"]
    assert request["body"]["report_path"] == str(result.report_path)
    assert any(DEFAULT_MATCHUP_ID in step for step in request["body"]["failed_steps"])
    (record,) = result.report["notifications"]
    assert (record["delivered"], record["http_status"], record["attempts"]) == (True, 200, 1)
    assert record["url"] == f"http://127.0.0.1:{webhook.port}/***"
    assert "[notify] notify.webhooks[0]: delivered (HTTP 200)" in result.stdout
    assert json.loads(copy.read_text(encoding="utf-8"))["notifications"] == [record]
    written = result.report_path.read_text(encoding="utf-8") if result.report_path else ""
    assert HOOK_TOKEN not in written + result.output
    assert "XXXXSECRETPATH" not in written
    _validate(result.report)


def test_a_success_is_not_posted_when_on_leaves_it_out(
    recovery_sim: RecoverySim, run_bundle: RunBundle, webhook: Webhook
) -> None:
    sim = recovery_sim(notify={"webhooks": [{"url": webhook.url(), "on": ["failed"]}]})

    result = _apply(run_bundle, sim.config_path, env={})

    assert result.exit_code == 0, result.output
    assert webhook.requests == []
    assert result.report["notifications"] == []
    assert "[notify]" not in result.output


def test_a_receiver_that_is_down_is_recorded_and_the_exit_code_stays(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    hook = {"url": url, "on": ["success"], "retries": 1, "backoff": 0, "timeout": 2}
    sim = recovery_sim(notify={"webhooks": [hook]})

    result = _apply(run_bundle, sim.config_path, env={})

    assert result.exit_code == 0, result.output
    (record,) = result.report["notifications"]
    assert record["delivered"] is False
    assert record["attempts"] == 2
    assert record["error"].startswith("connection refused")
    assert "[notify] notify.webhooks[0]: not delivered: connection refused" in result.stdout
    assert result.report["status"] == "success"
    _validate(result.report)


def test_a_url_secret_from_the_environment_never_reaches_the_report_or_console(
    recovery_sim: RecoverySim, run_bundle: RunBundle, webhook: Webhook
) -> None:
    hook = {"url": "{env:TEAM_HOOK_URL}", "on": ["success"], "format": "slack"}
    sim = recovery_sim(notify={"webhooks": [hook]})

    result = _apply(run_bundle, sim.config_path, env={"TEAM_HOOK_URL": webhook.url()})

    assert result.exit_code == 0, result.output
    (request,) = webhook.requests
    assert request["body"]["text"].startswith("recovery-bundle apply: success")
    written = result.report_path.read_text(encoding="utf-8") if result.report_path else ""
    assert "XXXXSECRETPATH" not in written + result.output
    assert result.report["notifications"][0]["delivered"] is True


def test_a_missing_header_secret_is_a_recorded_failure_not_a_changed_exit_code(
    recovery_sim: RecoverySim, run_bundle: RunBundle, webhook: Webhook
) -> None:
    hook = {"url": webhook.url(), "on": ["success"], "headers": {"X-Token": "{env:NOT_SET_X}"}}
    sim = recovery_sim(notify={"webhooks": [hook]})

    result = _apply(run_bundle, sim.config_path, env={})

    assert result.exit_code == 0, result.output
    assert webhook.requests == []
    (record,) = result.report["notifications"]
    assert record["error"] == (
        "notify.webhooks[0].headers.X-Token: environment variable NOT_SET_X is not set"
    )


def test_a_bad_notify_table_stops_the_run_before_anything_runs(
    recovery_sim: RecoverySim, run_bundle: RunBundle, tmp_path: Path
) -> None:
    sim = recovery_sim(notify={"webhooks": [{"url": "ftp://example.invalid/x"}]})

    result = _apply(run_bundle, sim.config_path, env={})

    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"recovery-bundle: error: {sim.config_path}: notify.webhooks[0].url:"
        " must be an http:// or https:// URL with a host"
    )
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []


def test_a_dry_run_is_not_posted_by_default(
    recovery_sim: RecoverySim, run_bundle: RunBundle, webhook: Webhook
) -> None:
    sim = recovery_sim(notify={"webhooks": [{"url": webhook.url()}]})

    result = run_bundle("run", "--config", str(sim.config_path), "--matchup-id", DEFAULT_MATCHUP_ID)

    assert result.exit_code == 0, result.output
    assert webhook.requests == []
    assert result.report["notifications"] == []


# --- telemetry -----------------------------------------------------------------------------


def test_an_apply_is_exported_as_one_trace_and_recorded(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    from test_telemetry import OtlpReceiver

    receiver = OtlpReceiver()
    receiver.thread.start()
    try:
        sim = recovery_sim(faults={"reprocess": {"fail_ids": [DEFAULT_MATCHUP_ID]}})
        result = _apply(
            run_bundle, sim.config_path, env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        )
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        receiver.thread.join(5)

    assert result.exit_code == 1, result.output
    record = result.report["telemetry"]
    assert record["exported"] is True, record
    assert receiver.paths == ["/v1/traces"]
    spans = receiver.spans()
    assert record["spans"] == len(spans) == 1 + 1 + 1 + 1  # run, ingest, reprocess, checks
    assert {span.trace_id.hex() for span in spans} == {record["trace_id"]}
    assert f"[telemetry] exported {len(spans)} span(s)" in result.stdout
    _validate(result.report)


def test_an_unreachable_collector_is_recorded_and_the_exit_code_stays(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    sim = recovery_sim()
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_TIMEOUT": "2"}

    result = _apply(run_bundle, sim.config_path, env=env)

    assert result.exit_code == 0, result.output
    record = result.report["telemetry"]
    assert (record["exported"], record["endpoint"]) == (False, f"{endpoint}/v1/traces")
    assert "[telemetry] not exported:" in result.stdout
    assert "Traceback" not in result.output


def test_without_the_variable_the_report_has_no_telemetry(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim()

    result = _apply(run_bundle, sim.config_path, env={})

    assert result.exit_code == 0, result.output
    assert "telemetry" not in result.report


def test_an_interrupted_run_is_posted_and_keeps_its_exit_code(
    recovery_sim: RecoverySim, webhook: Webhook, tmp_path: Path
) -> None:
    sim = recovery_sim(
        faults={"ingest": {"hang": True}},
        steps={"ingest": {"timeout": 30, "kill_grace": 0.3}},
        notify={"webhooks": [{"url": webhook.url(), "on": ["interrupted"]}]},
    )
    output_dir = tmp_path / "runs"
    argv = [sys.executable, "-m", "recovery_plugin", "run", "--mode", "apply"]
    argv += ["--config", str(sim.config_path), "--matchup-id", DEFAULT_MATCHUP_ID]
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_ENV}
    proc = subprocess.Popen(  # the launcher, as an operator starts it and then presses Ctrl-C
        [*argv, "--output-dir", str(output_dir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    try:
        hang = hang_pid_path(sim.faults_path, "ingest")
        deadline = time.monotonic() + 30
        while not hang.is_file():
            assert time.monotonic() < deadline, "the ingest never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 130, output
    (request,) = webhook.requests
    assert request["body"]["status"] == "interrupted"
    (report_path,) = output_dir.glob("*/recovery_bundle_report.json")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["status"] == "interrupted"
    assert report["notifications"][0]["delivered"] is True
