"""One recovery run, start to finish: lock, run the steps, verify, finish the report.

The pipeline knows nothing of click: the CLI resolves its flags into a
:class:`~recovery_plugin.resolve.context.RunContext` and gets back a :class:`RunOutcome` with
the report and the exit code. The report is written at each change and always at the end.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recovery_plugin.atomic import write_failure
from recovery_plugin.clock import now_iso
from recovery_plugin.errors import ExitCode, RecoveryError
from recovery_plugin.ids import printable, write_matchup_file
from recovery_plugin.names import MATCHUP_IDS_NAME
from recovery_plugin.records import dataclass
from recovery_plugin.redact import Redactor
from recovery_plugin.render.progress import Progress
from recovery_plugin.report.finish import finish_report
from recovery_plugin.report.model import verdict_line
from recovery_plugin.report.result import VerificationResult
from recovery_plugin.report.writer import Report, ReportWriter
from recovery_plugin.resolve.context import RunContext, RunRequest, prepare
from recovery_plugin.run.batches import plan_batches
from recovery_plugin.run.confirm import Confirmation, Prompt, confirm_run
from recovery_plugin.run.handlers import run_finally
from recovery_plugin.run.signals import Interrupt

if TYPE_CHECKING:
    from recovery_plugin.run.lock import OutputLock

__all__ = ["Prompt", "RunOutcome", "RunRequest", "execute", "prepare"]

Console = Callable[[str], None]
MAX_CONSOLE_FAILURES = 10


@dataclass
class RunOutcome:
    report: dict[str, Any]
    exit_code: int
    report_path: Path


def execute(
    context: RunContext,
    console: Console,
    progress: Progress | None = None,
    *,
    yes: bool = False,
    prompt: Prompt | None = None,
) -> RunOutcome:
    """Run (or plan) every step of ``context``; the report is always written, whole.

    An apply is confirmed first (``yes`` is ``--yes``; ``prompt`` is where to ask, by default
    stdin and stdout): a refusal raises before anything is locked or created.
    """
    progress = progress or Progress(io.StringIO(), live=False)  # counts only, never drawn
    console = _masked(console, context.redactor)
    for warning in context.warnings:
        console(warning)
    confirmation = confirm_run(context, yes=yes, prompt=prompt)
    start = time.monotonic()
    from recovery_plugin.run.batches import batch_policy

    batch_policy(context)  # a bad --canary/--batch-size/--max-failures fails before anything
    lock = None
    if context.mode == "apply":
        from recovery_plugin.run.lock import OutputLock

        # Before the run directory exists: a refused apply leaves nothing behind.
        lock = OutputLock(context.settings.output_dir, run_id=context.run_id, warn=console)
        lock.acquire()
    try:
        _remove_stale_temporaries(context)
        context.run_dir.mkdir()
        return _execute_locked(context, console, progress, start, lock, confirmation)
    finally:
        if lock is not None:
            lock.release()


def _execute_locked(
    context: RunContext,
    console: Console,
    progress: Progress,
    start: float,
    lock: OutputLock | None,
    confirmation: Confirmation | None,
) -> RunOutcome:
    def finished(payload: dict[str, Any]) -> dict[str, Any]:
        from recovery_plugin.run.postfinish import after_finish

        return after_finish(context, writer, payload, console)

    mode = context.mode
    report = context.start_report()
    report.confirmation = confirmation
    writer = ReportWriter(context.run_dir, context.redactor, copy_to=context.report_copy)
    if context.matchup_ids and mode != "dry-run":
        try:
            write_matchup_file(context.run_dir / MATCHUP_IDS_NAME, list(context.matchup_ids))
        except OSError as exc:  # a full disk: nothing will be started (the writer says why)
            writer.note_failure(write_failure(exc.filename or MATCHUP_IDS_NAME, exc))
    if mode != "dry-run":  # a dry-run's report is written once, whole, at the end
        writer.write(report)
    interrupt = Interrupt()
    result: VerificationResult | None = None
    try:
        with interrupt.installed():
            if mode != "dry-run":
                if mode == "apply":
                    from recovery_plugin.run.baseline import capture_baseline
                    from recovery_plugin.run.mutations import run_mutating_steps

                    capture_baseline(context, report, writer, console)
                    run_mutating_steps(
                        context,
                        report,
                        writer,
                        interrupt.cancel,
                        console,
                        progress,
                        lock,
                        interrupt,
                    )
                result = _verify(context, report, writer, interrupt, console, progress)
                run_finally(context, report, writer, console, lock)
            else:
                plan_batches(context, report)
    except RecoveryError as exc:
        run_finally(context, report, writer, console, lock)
        report.status = "failed"
        report.error = exc.message
        finished(finish_report(report, writer, duration_s=time.monotonic() - start))
        raise
    except OSError as exc:
        # A file of the run could not be written (a full disk): the run stops with that reason.
        writer.note_failure(write_failure(exc.filename or context.run_dir, exc))
        run_finally(context, report, writer, console, lock)
        _stop_the_rest(report, str(writer.failure))
        payload = finished(finish_report(report, writer, duration_s=time.monotonic() - start))
        return RunOutcome(_say_failure(payload, writer), int(ExitCode.WRITE_FAILED), writer.path)
    except BaseException as exc:
        # Whatever happens, the evidence is written before the error propagates.
        interrupted = isinstance(exc, KeyboardInterrupt)
        run_finally(context, report, writer, console, lock)
        report.status = "interrupted" if interrupted else "failed"
        report.error = f"{type(exc).__name__}: {exc}"
        for step in report.steps:
            if step.status in ("planned", "running"):
                step.status = "interrupted" if interrupted else "failed"
                step.error = step.error or "the run stopped before this step finished"
        payload = finished(finish_report(report, writer, duration_s=time.monotonic() - start))
        if interrupted:
            return RunOutcome(payload, int(interrupt.exit_code), writer.path)
        raise
    if writer.failure is not None:
        _stop_the_rest(report, writer.failure)
    payload = finished(
        finish_report(
            report,
            writer,
            duration_s=time.monotonic() - start,
            result=result,
            interrupted=interrupt.happened,
        )
    )
    if result is not None:
        _say_verification(report, console)
    return RunOutcome(
        _say_failure(payload, writer), _exit_code(report, interrupt, writer), writer.path
    )


def _stop_the_rest(report: Report, failure: str) -> None:
    """The run stopped on a file it could not write: that is its one reason, and the reason of
    every step it did not start."""
    from recovery_plugin.run.mutations import stopped_by

    report.status = "failed"
    report.error = report.error or f"the run stopped: {failure}"
    for step in report.steps:
        if step.status == "planned":
            step.status, step.error = "skipped", stopped_by(failure)
        elif step.status == "running":
            step.status, step.error = "failed", step.error or f"the run stopped: {failure}"


def _say_failure(payload: dict[str, Any], writer: ReportWriter) -> dict[str, Any]:
    """What the console shows: the failure even when it came with the final write itself."""
    if writer.failure is not None and not payload.get("error"):
        return {**payload, "status": "failed", "error": f"the run stopped: {writer.failure}"}
    return payload


def _remove_stale_temporaries(context: RunContext) -> None:
    """Temporaries of atomic writes killed in an earlier run (run, step and copy directories)."""
    from recovery_plugin.atomic import remove_stale_temporaries

    remove_stale_temporaries(context.settings.output_dir, depth=3)
    if context.report_copy is not None:
        remove_stale_temporaries(context.report_copy.parent, depth=0)


def _masked(console: Console, redactor: Redactor) -> Console:
    """Every console line passes the redactor (``api_base`` may carry credentials) and shows
    control characters escaped (an id with a newline or an escape sequence must not reshape the
    operator's terminal)."""
    return lambda line: console(printable(redactor.text(line)))


def _exit_code(report: Report, interrupt: Interrupt, writer: ReportWriter) -> int:
    if report.status == "interrupted":
        return int(interrupt.exit_code)
    if writer.failure is not None:
        return int(ExitCode.WRITE_FAILED)
    if report.status in ("success", "dry-run"):
        return int(ExitCode.OK)
    return int(ExitCode.FAILED)


def _verify(
    context: RunContext,
    report: Report,
    writer: ReportWriter,
    interrupt: Interrupt,
    console: Console,
    progress: Progress,
) -> VerificationResult | None:
    """Run the verification session, unless the capture step is skipped or the run cancelled."""
    capture = report.step("capture")
    if capture is None or capture.status == "skipped":
        return None
    if interrupt.cancel.is_set():
        capture.status = "skipped"
        capture.error = "not run: the run was interrupted"
        return None
    if writer.failure is not None:
        return None  # the run stopped: skipped with the reason by _stop_the_rest
    from recovery_plugin.run.verification import run_verification, session_log_path

    capture.status = "running"
    capture.started_at = now_iso()
    capture.log_path = str(session_log_path(context.run_dir))
    writer.write(report)
    console(
        f"[capture] verifying {context.check_count} check(s) against {context.settings.api_base}"
    )
    progress.expect("capture", context.check_count)
    try:
        with interrupt.pytest_running():
            return run_verification(
                context,
                cancel=interrupt.cancel,
                on_check=lambda failed: progress.advance("capture", failed=failed),
            )
    except OSError as exc:  # the capture file or the session's own files (a full disk)
        writer.note_failure(write_failure(exc.filename or context.run_dir, exc))
        capture.status, capture.error = "failed", str(writer.failure)
        capture.finished_at = now_iso()
        return None


def _say_verification(report: Report, console: Console) -> None:
    capture = report.step("capture")
    if capture is None:
        return
    summary = (report.verification or {}).get("summary")
    if not summary:
        console(f"[capture] {capture.status}: {capture.error}")
        return
    console(f"[capture] {capture.status}: {verdict_line(summary)}")
    failures = [
        t
        for t in (report.verification or {}).get("tests", [])
        if t["outcome"] in ("failed", "error")
    ]
    for test in failures[:MAX_CONSOLE_FAILURES]:
        console(f"  - {(test.get('message') or test['nodeid']).splitlines()[0]}")
    if len(failures) > MAX_CONSOLE_FAILURES:
        console(
            f"  ... and {len(failures) - MAX_CONSOLE_FAILURES} more (every reason is in the report)"
        )
    readiness = report.readiness
    if readiness is not None and not readiness.get("ready"):
        console(
            f"[capture] readiness: {readiness['url']} did not answer 2xx within"
            f" {readiness['deadline_s']:g}s ({len(readiness['attempts'])} probes)"
        )
