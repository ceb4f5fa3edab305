"""OpenTelemetry export of a finished run, against an OTLP/HTTP receiver on loopback."""

from __future__ import annotations

import ast
import gzip
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.run.telemetry import export_run, telemetry_enabled
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID

OTHER_ID = "20260603|광역자치단체장|26-000"


class OtlpReceiver:
    """Accepts ``POST /v1/traces`` and decodes each request with the SDK's own proto classes."""

    def __init__(self, status: int = 200) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        self.status = status
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                outer.paths.append(self.path)
                request = ExportTraceServiceRequest()
                request.ParseFromString(data)
                outer.requests.append(request)
                body = ExportTraceServiceResponse().SerializeToString()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[Any]:
        return [
            span
            for request in self.requests
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def resource_attributes(self) -> dict[str, Any]:
        (request,) = self.requests
        return _attributes(request.resource_spans[0].resource.attributes)


def _attributes(values: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for item in values:
        kind = item.value.WhichOneof("value")
        value = getattr(item.value, kind)
        if kind == "array_value":
            value = [v.string_value for v in value.values]
        decoded[item.key] = value
    return decoded


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    receiver = OtlpReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    receiver.thread.join(5)


@pytest.fixture
def failed_run(recovery_sim: RecoverySim, run_bundle: RunBundle) -> dict[str, Any]:
    """A real apply whose ingest needs a retry and one of whose reprocess steps fails."""
    sim = recovery_sim(
        faults={"ingest": {"fail_times": 1}, "reprocess": {"fail_ids": [DEFAULT_MATCHUP_ID]}},
        steps={"ingest": {"retries": 1, "backoff": 0.01}},
    )
    result = run_bundle(
        "run",
        "--mode",
        "apply",
        "--config",
        str(sim.config_path),
        "--matchup-id",
        DEFAULT_MATCHUP_ID,
        "--matchup-id",
        OTHER_ID,
    )
    assert result.exit_code == 1, result.output
    return result.report


def test_a_run_is_one_trace_with_a_span_per_attempt_and_check_batch(
    otlp_receiver: OtlpReceiver, failed_run: dict[str, Any]
) -> None:
    from opentelemetry.proto.trace.v1.trace_pb2 import Status

    record = export_run(failed_run, {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint})

    assert record is not None
    assert record["exported"] is True, record
    assert record["error"] is None
    assert otlp_receiver.paths == ["/v1/traces"]
    spans = otlp_receiver.spans()
    assert (
        record["spans"] == len(spans) == 1 + 2 + 2 + 1
    )  # run, 2 ingest attempts, 2 reprocess, checks
    assert {span.trace_id.hex() for span in spans} == {record["trace_id"]}
    by_name: dict[str, list[Any]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    (root,) = by_name["recovery-bundle apply"]
    assert root.parent_span_id == b""
    assert all(span.parent_span_id == root.span_id for span in spans if span is not root)
    assert root.status.code == Status.STATUS_CODE_ERROR
    root_attributes = _attributes(root.attributes)
    assert root_attributes["recovery.run_id"] == failed_run["run_id"]
    assert root_attributes["recovery.status"] == "failed"
    assert root_attributes["recovery.matchup_ids"] == [DEFAULT_MATCHUP_ID, OTHER_ID]

    first, second = sorted(
        by_name["ingest attempt 1"] + by_name["ingest attempt 2"], key=lambda s: s.name
    )
    assert _attributes(first.attributes)["process.exit.code"] == 1
    assert first.status.code == Status.STATUS_CODE_ERROR
    assert second.status.code == Status.STATUS_CODE_OK
    assert first.end_time_unix_nano <= second.start_time_unix_nano

    reprocess = {
        _attributes(s.attributes)["recovery.matchup_id"]: s for s in by_name["reprocess attempt 1"]
    }
    assert reprocess[DEFAULT_MATCHUP_ID].status.code == Status.STATUS_CODE_ERROR
    assert _attributes(reprocess[DEFAULT_MATCHUP_ID].attributes)["process.exit.code"] == 1
    assert reprocess[OTHER_ID].status.code == Status.STATUS_CODE_OK

    (checks,) = by_name["verification"]
    check_attributes = _attributes(checks.attributes)
    summary = failed_run["verification"]["summary"]
    assert check_attributes["recovery.checks.total"] == summary["total"]
    assert check_attributes["recovery.checks.passed"] == summary["passed"]
    assert root.start_time_unix_nano <= checks.start_time_unix_nano <= checks.end_time_unix_nano
    assert checks.end_time_unix_nano <= root.end_time_unix_nano
    assert otlp_receiver.resource_attributes()["service.name"] == "recovery-bundle"


def test_a_failed_check_is_an_event_on_its_batch(otlp_receiver: OtlpReceiver) -> None:
    report = _report(
        verification={
            "summary": {"passed": 1, "failed": 1, "error": 0, "skipped": 0, "total": 2},
            "tests": [
                {"nodeid": "recovery::health", "outcome": "passed", "message": None},
                {
                    "nodeid": "recovery::summary",
                    "outcome": "failed",
                    "matchup_id": None,
                    "message": "expected 200, got 500\nmore",
                },
            ],
        }
    )

    export_run(report, {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint + "/"})

    (checks,) = [s for s in otlp_receiver.spans() if s.name == "verification"]
    (event,) = checks.events
    assert event.name == "check recovery::summary"
    assert _attributes(event.attributes)["recovery.check.message"] == "expected 200, got 500"


def test_without_the_endpoint_variable_nothing_is_exported_or_imported() -> None:
    assert export_run(_report(), {}) is None
    assert not telemetry_enabled(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"}
    )
    assert not telemetry_enabled(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_TRACES_EXPORTER": "none"}
    )
    probe = (
        "import sys, os\n"
        "os.environ.pop('OTEL_EXPORTER_OTLP_ENDPOINT', None)\n"
        "os.environ.pop('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', None)\n"
        "from recovery_plugin.run.telemetry import export_run\n"
        "result = export_run({'started_at': '2026-01-01T00:00:00+00:00', 'steps': []})\n"
        "print([result, sorted(m for m in sys.modules if m.startswith('opentelemetry'))])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert ast.literal_eval(out.stdout.strip()) == [None, []]


def test_a_missing_sdk_is_a_record_with_the_install_hint() -> None:
    probe = (
        "import sys\n"
        "sys.modules['opentelemetry.sdk'] = None  # as if the extra were not installed\n"
        "sys.modules['opentelemetry.exporter'] = None\n"
        "from recovery_plugin.run.telemetry import export_run\n"
        "print(export_run({'steps': []}, {'OTEL_EXPORTER_OTLP_ENDPOINT': 'http://127.0.0.1:9'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    record = ast.literal_eval(out.stdout.strip())
    assert record["exported"] is False
    assert record["error"].endswith("pip install 'recovery-plugin[otel]'")
    assert record["error"].startswith(
        "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed"
    )


def test_an_unreachable_collector_is_a_record_not_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"

    record = export_run(_report(), {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}, timeout=1.0)

    assert record is not None
    assert record["exported"] is False
    assert record["endpoint"] == f"{endpoint}/v1/traces"
    assert "export" in record["error"].lower()
    assert "Traceback" not in capsys.readouterr().err


def test_a_collector_that_rejects_the_export_is_recorded(otlp_receiver: OtlpReceiver) -> None:
    otlp_receiver.status = 400

    record = export_run(
        _report(), {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint}, timeout=2.0
    )

    assert record is not None
    assert (record["exported"], record["spans"]) == (False, 1)
    assert len(otlp_receiver.requests) == 1  # a 400 is not retried


def test_the_traces_endpoint_variable_wins(otlp_receiver: OtlpReceiver) -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_receiver.endpoint + "/custom/traces",
    }

    record = export_run(_report(), environ)

    assert record is not None and record["exported"] is True
    assert otlp_receiver.paths == ["/custom/traces"]


def _report(**changes: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "run_id": "20261202T101500Z-abc123",
        "status": "failed",
        "mode": "apply",
        "api_base": "http://127.0.0.1:8100",
        "matchup_ids": [],
        "started_at": "2026-12-02T10:15:00.000+00:00",
        "finished_at": "2026-12-02T10:15:03.000+00:00",
        "duration_s": 3.0,
        "steps": [],
    }
    if "verification" in changes:
        report["steps"] = [
            {
                "name": "capture",
                "status": "failed",
                "started_at": "2026-12-02T10:15:01.000+00:00",
                "finished_at": "2026-12-02T10:15:02.500+00:00",
                "duration_s": 1.5,
                "attempts": [],
            }
        ]
    return report | changes
