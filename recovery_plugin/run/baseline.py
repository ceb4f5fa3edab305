"""The 'before' half of the evidence: every endpoint captured once before anything changes."""

from __future__ import annotations

from collections.abc import Callable

from recovery_plugin.names import BEFORE_CAPTURE_NAME, CAPTURE_NAME
from recovery_plugin.report.writer import Report, ReportWriter
from recovery_plugin.resolve.context import RunContext

__all__ = ["capture_baseline"]


def capture_baseline(
    context: RunContext, report: Report, writer: ReportWriter, console: Callable[[str], None]
) -> None:
    capture = report.step("capture")
    if capture is None or capture.status == "skipped":
        return
    from recovery_plugin.http.capture import targets_for
    from recovery_plugin.http.capture_file import write_capture_file
    from recovery_plugin.http.fetch import capture_all

    captures = capture_all(
        context.settings.api_base,
        targets_for(context.runbook.endpoints, context.matchup_ids),
        context.capture_spec,
        redactor=context.redactor,
    )
    path = context.run_dir / BEFORE_CAPTURE_NAME
    write_capture_file(path, context.redactor.text(context.settings.api_base), captures.values())
    report.evidence = {
        "before": str(path),
        "after": str(context.run_dir / CAPTURE_NAME),
        "diffs": [],
    }
    writer.write(report)
    console(f"[baseline] captured {len(captures)} endpoint response(s) before the steps")
