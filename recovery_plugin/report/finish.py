"""One finisher for every report: ``run``, ``verify`` and the plain-pytest gate alike.

:func:`finish_report` applies the verification result to the capture step, adds the evidence
diff, settles the status, builds the checklist, gives the report hooks their look, and writes
the report — whole and atomically — exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recovery_plugin.atomic import write_failure, write_json_atomic
from recovery_plugin.clock import now_iso
from recovery_plugin.report.checklist import write_ids_to_redo
from recovery_plugin.report.model import FAILED_STATUSES, StepRecord
from recovery_plugin.report.result import (
    INTERNAL_ERROR_EXIT,
    INTERRUPTED_EXIT,
    NO_HOOKS,
    VerificationResult,
)
from recovery_plugin.report.writer import Report, ReportWriter

__all__ = ["amend_report", "apply_verification", "finish_report", "ids_to_redo"]

# A reprocess step skipped for one of these reasons was not meant to run: nothing to redo.
_CHOSEN_SKIPS = ("skipped by --", "succeeded in run ")


def finish_report(
    report: Report,
    writer: ReportWriter,
    *,
    duration_s: float,
    result: VerificationResult | None = None,
    interrupted: bool = False,
) -> dict[str, Any]:
    """Complete ``report`` and write it; returns the report as written (masked)."""
    capture = report.step("capture")
    if result is not None:
        if capture is not None:
            apply_verification(capture, result, interrupted=interrupted)
        report.readiness = dict(result.readiness) if result.readiness is not None else None
        if result.verification is not None:
            report.verification = dict(result.verification)
        if report.evidence is not None:
            from recovery_plugin.report.evidence import diff_capture_files  # apply runs only

            report.evidence["diffs"] = diff_capture_files(
                Path(report.evidence["before"]), Path(report.evidence["after"])
            )
    if interrupted:
        report.status = "interrupted"
        for step in report.steps:
            if step.status in ("planned", "running"):
                step.status = "skipped"
                step.error = step.error or "not run: the run was interrupted"
    report.ids_to_redo = ids_to_redo(report)
    if report.run_dir:
        write_ids_to_redo(Path(report.run_dir), report.ids_to_redo)
    hooks = result.hooks if result is not None else NO_HOOKS
    return writer.finalize(report, finished_at=now_iso(), duration_s=duration_s, hooks=hooks)


def ids_to_redo(report: Report) -> list[str]:
    """The ids a re-apply must still do: reprocess failed, timed out or interrupted, and the
    ones skipped because of a failure or an interruption. None for a run that mutates nothing."""
    if report.mode != "apply":
        return []
    return [
        step.matchup_id
        for step in report.steps
        if step.name == "reprocess" and step.matchup_id is not None and _to_redo(step)
    ]


def _to_redo(step: StepRecord) -> bool:
    if step.status in FAILED_STATUSES or step.status in ("planned", "running"):
        return True
    return step.status == "skipped" and not (step.error or "").startswith(_CHOSEN_SKIPS)


def amend_report(
    writer: ReportWriter, payload: Mapping[str, Any], additions: Mapping[str, Any]
) -> dict[str, Any]:
    """The finished ``payload`` with ``additions`` (masked), written again atomically.

    For what is known only once the report is final: the
    notifications sent about it, its telemetry export.
    """
    amended: dict[str, Any] = {**payload, **writer.redactor.obj(dict(additions))}
    for path in (writer.path, writer.copy_to):
        if path is None:
            continue
        try:
            write_json_atomic(path, amended)
        except OSError as exc:  # the final report stays as it was; the run says why
            writer.note_failure(write_failure(exc.filename or path, exc))
    return amended


def apply_verification(
    step: StepRecord, result: VerificationResult, *, interrupted: bool = False
) -> None:
    """Set the capture step's status, exit code and error from the session's outcomes."""
    step.exit_code = result.exitstatus
    step.finished_at = now_iso()
    step.duration_s = round(result.duration_s, 3)
    if result.log_path is not None:
        step.log_path = result.log_path
    if result.verification is None:
        step.status = "interrupted" if interrupted else "failed"
        step.error = step.error or (
            f"the verification session ended (pytest exit code {result.exitstatus}) before"
            f" reporting its outcomes; see {result.log_path}"
        )
        return
    summary = result.verification["summary"]
    if result.exitstatus == INTERRUPTED_EXIT:
        step.status = "interrupted"
        step.error = "verification interrupted"
    elif result.healthy:
        step.status = "success"
    else:
        step.status = "failed"
        if summary["failed"] or summary["error"]:
            step.error = f"{summary['failed']} check(s) failed, {summary['error']} error(s)"
        elif summary["total"] == 0:
            step.error = "no verification check ran"
        else:
            step.error = f"verification session ended with pytest exit code {result.exitstatus}"
    if result.exitstatus == INTERNAL_ERROR_EXIT:
        what = result.internal_error or "see the log"
        step.status = "failed"
        step.error = (
            f"pytest internal error in the verification session: {what}"
            f" (pytest exit code {result.exitstatus}; log: {result.log_path})"
        )
