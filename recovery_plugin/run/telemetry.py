"""Optional OpenTelemetry export of a finished run: one trace, a span per step attempt and per
check batch, built from the times the report recorded.

Enabled by the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)
when ``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-http`` are installed
(``pip install 'recovery-plugin[otel]'``); ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none`` turn it off. Without the variable nothing of OpenTelemetry is
imported. The exporter's other standard variables (headers, timeout, certificates, compression,
``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``) apply as the SDK reads them.

An export never raises and never changes the run's outcome: :func:`export_run` returns a record
(``exported``, the span count, the trace id, an error) for the console or the report.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import Span, Tracer

__all__ = ["ENDPOINT_ENV", "export_run", "telemetry_enabled"]

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
INSTALL_HINT = "pip install 'recovery-plugin[otel]'"
_FAILED = frozenset({"failed", "timeout", "interrupted"})
_FAILED_CHECKS = frozenset({"failed", "error"})
_ERROR_CHARS = 400


def telemetry_enabled(environ: Mapping[str, str]) -> bool:
    """True when the environment asks for an OTLP export (whether or not the SDK is there)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(environ.get(TRACES_ENDPOINT_ENV) or environ.get(ENDPOINT_ENV))


def traces_url(environ: Mapping[str, str]) -> str:
    """The signal URL, as the OTLP/HTTP specification derives it."""
    specific = environ.get(TRACES_ENDPOINT_ENV)
    if specific:
        return specific
    return environ[ENDPOINT_ENV].rstrip("/") + "/v1/traces"


def export_run(
    report: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    timeout: float | None = None,
) -> dict[str, Any] | None:
    """Export the finished ``report`` as one trace; None when telemetry is not enabled.

    ``timeout`` bounds the export, retries included (default: the SDK's,
    ``OTEL_EXPORTER_OTLP_TIMEOUT`` or 10 s).
    """
    environ = os.environ if environ is None else environ
    if not telemetry_enabled(environ):
        return None
    url = traces_url(environ)
    record: dict[str, Any] = {"exported": False, "endpoint": _mask(url), "spans": 0}
    record |= {"trace_id": None, "error": None}
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    except ImportError as exc:
        record["error"] = (
            f"{ENDPOINT_ENV} is set but OpenTelemetry is not installed ({exc.name}): {INSTALL_HINT}"
        )
        return record
    attributes = {} if environ.get("OTEL_SERVICE_NAME") else {"service.name": "recovery-bundle"}
    provider = TracerProvider(resource=Resource.create(attributes))
    collected = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(collected))
    _build_trace(provider.get_tracer("recovery_plugin"), report)
    spans: tuple[ReadableSpan, ...] = collected.get_finished_spans()
    provider.shutdown()
    record["spans"] = len(spans)
    if spans and spans[0].context is not None:
        record["trace_id"] = f"{spans[0].context.trace_id:032x}"
    exporter = OTLPSpanExporter(endpoint=url, timeout=timeout)
    with _sdk_messages() as messages:
        try:
            result = exporter.export(spans)
        finally:
            exporter.shutdown()  # type: ignore[no-untyped-call]
    record["exported"] = result is SpanExportResult.SUCCESS
    if not record["exported"]:
        record["error"] = _error(messages)
    return record


@contextmanager
def _sdk_messages() -> Iterator[list[str]]:
    """Collect the SDK's warnings instead of letting them reach the console as tracebacks."""
    import logging  # only when a run is exported

    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage().splitlines()[0] if record.getMessage() else "")

    logger = logging.getLogger("opentelemetry")
    handler = Collect(logging.WARNING)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _error(messages: list[str]) -> str:
    """The SDK's last word, with its first (which names the cause, e.g. a refused connection)."""
    from recovery_plugin.redact import Redactor

    if not messages:
        return "the OTLP export failed"
    text = messages[-1] if len(messages) == 1 else f"{messages[-1]} (first: {messages[0]})"
    return Redactor().text(text[:_ERROR_CHARS])


def _ns(stamp: Any) -> int | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return int(datetime.fromisoformat(stamp).timestamp() * 1_000_000_000)
    except ValueError:
        return None


def _plus(start: int, seconds: Any) -> int:
    return start + int(float(seconds or 0.0) * 1_000_000_000)


_Record = Mapping[str, Any]


def _build_trace(tracer: Tracer, report: Mapping[str, Any]) -> None:
    from opentelemetry import trace

    start = _ns(report.get("started_at"))
    if start is None:
        return
    end = _ns(report.get("finished_at")) or _plus(start, report.get("duration_s"))
    status = str(report.get("status"))
    root = tracer.start_span(
        f"recovery-bundle {report.get('mode')}",
        start_time=start,
        attributes={
            "recovery.run_id": str(report.get("run_id")),
            "recovery.mode": str(report.get("mode")),
            "recovery.status": status,
            "recovery.api_base": str(report.get("api_base")),
            "recovery.matchup_ids": [str(i) for i in report.get("matchup_ids") or []],
        },
    )
    parent = trace.set_span_in_context(root)
    for step in report.get("steps", []):
        if step.get("name") == "capture":
            if (batch_start := _ns(step.get("started_at"))) is not None:
                _check_batch(tracer, parent, step, report.get("verification") or {}, batch_start)
            continue
        for attempt in step.get("attempts") or []:
            if (attempt_start := _ns(attempt.get("started_at"))) is not None:
                _attempt(tracer, parent, step, attempt, attempt_start)
    _finish(root, status, f"run {status}", end)


def _step_attributes(step: Mapping[str, Any], status: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "recovery.step": str(step.get("name")),
        "recovery.step.status": str(status),
    }
    if step.get("matchup_id") is not None:
        attributes["recovery.matchup_id"] = str(step["matchup_id"])
    return attributes


def _finish(span: Span, status: str, error: Any, end: int) -> None:
    from opentelemetry.trace import Status, StatusCode

    if status in _FAILED:
        span.set_status(Status(StatusCode.ERROR, str(error or status)))
    elif status == "success":
        span.set_status(Status(StatusCode.OK))
    span.end(end_time=end)


def _attempt(tracer: Tracer, parent: Any, step: _Record, attempt: _Record, start: int) -> None:
    attributes = _step_attributes(step, attempt.get("status"))
    attributes["recovery.attempt"] = int(attempt.get("attempt") or 1)
    if attempt.get("exit_code") is not None:
        attributes["process.exit.code"] = int(attempt["exit_code"])
    span = tracer.start_span(
        f"{step.get('name')} attempt {attributes['recovery.attempt']}",
        context=parent,
        start_time=start,
        attributes=attributes,
    )
    _finish(
        span,
        str(attempt.get("status")),
        attempt.get("error"),
        _plus(start, attempt.get("duration_s")),
    )


def _check_batch(
    tracer: Tracer, parent: Any, step: _Record, verification: _Record, start: int
) -> None:
    end = _ns(step.get("finished_at")) or _plus(start, step.get("duration_s"))
    summary = verification.get("summary") or {}
    attributes = _step_attributes(step, step.get("status"))
    for key in ("passed", "failed", "error", "skipped", "total"):
        attributes[f"recovery.checks.{key}"] = int(summary.get(key) or 0)
    span = tracer.start_span(
        "verification", context=parent, start_time=start, attributes=attributes
    )
    for test in verification.get("tests", []):
        if test.get("outcome") in _FAILED_CHECKS:
            message = str(test.get("message") or "").strip().splitlines()
            event: dict[str, Any] = {"recovery.check.outcome": str(test["outcome"])}
            event["recovery.check.message"] = message[0] if message else ""
            if test.get("matchup_id") is not None:
                event["recovery.matchup_id"] = str(test["matchup_id"])
            span.add_event(f"check {test['nodeid']}", attributes=event, timestamp=end)
    _finish(span, str(step.get("status")), step.get("error"), end)


def _mask(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
