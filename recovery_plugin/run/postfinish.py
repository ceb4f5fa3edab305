"""After the final report is written: tell the team, export the trace, write the JUnit XML.

Whatever happens here never changes the run's outcome or exit code: each notification and the
telemetry export come back as records (``notifications``, ``telemetry``), which are added to the
report and written again, atomically. A run with no ``[notify]`` webhooks and no
``OTEL_EXPORTER_OTLP_ENDPOINT`` leaves its report as the finisher wrote it. (Who confirmed an
apply is not added here: it is the report's ``confirmation`` from its first write on.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from recovery_plugin.report.finish import amend_report
from recovery_plugin.report.writer import ReportWriter
from recovery_plugin.resolve.context import RunContext

__all__ = ["after_finish"]

Console = Callable[[str], None]


def after_finish(
    context: RunContext,
    writer: ReportWriter,
    payload: dict[str, Any],
    console: Console,
) -> dict[str, Any]:
    """``payload`` with the notifications and telemetry records, as rewritten; the JUnit XML
    (``--junit-xml``) written from it."""
    additions: dict[str, Any] = {}
    if context.runbook.notify:
        additions["notifications"] = _notify(context, writer, payload, console)
    telemetry = _export(context, payload, console)
    if telemetry is not None:
        additions["telemetry"] = telemetry
    if additions:
        payload = amend_report(writer, payload, additions)
    if context.request.junit_xml is not None and payload.get("verification") is not None:
        _junit(context, context.request.junit_xml, payload, console)
    return payload


def _junit(context: RunContext, path: Path, payload: dict[str, Any], console: Console) -> None:
    from recovery_plugin.report.junit import write_junit

    try:
        write_junit(payload, path, context.redactor)
    except OSError as exc:
        console(f"[junit] not written: {path}: {exc.strerror or exc}")


def _notify(
    context: RunContext, writer: ReportWriter, payload: dict[str, Any], console: Console
) -> list[dict[str, Any]]:
    from recovery_plugin.report.notify import send_notifications

    records = send_notifications(
        payload,
        str(writer.path),
        context.runbook.notify,
        context.redactor,
        context.request.environ,
    )
    for record in records:
        if record["delivered"]:
            console(f"[notify] {record['webhook']}: delivered (HTTP {record['http_status']})")
        else:
            console(f"[notify] {record['webhook']}: not delivered: {record['error']}")
    return records


def _export(
    context: RunContext, payload: dict[str, Any], console: Console
) -> dict[str, Any] | None:
    from recovery_plugin.run.telemetry import export_run, telemetry_enabled

    if not telemetry_enabled(context.request.environ):
        return None
    record = export_run(payload, context.request.environ)
    if record is None:
        return None
    if record["exported"]:
        console(f"[telemetry] exported {record['spans']} span(s) to {record['endpoint']}")
    else:
        console(f"[telemetry] not exported: {record['error']}")
    return record
