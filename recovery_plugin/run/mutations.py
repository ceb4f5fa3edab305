"""The mutating steps of an apply: ingest, then reprocess per matchup id, ``--jobs`` at a time.

A failed step makes the following mutating steps ``skipped`` unless ``--continue-on-error``
(for reprocess steps, ``--max-failures`` sets the ceiling instead); a cancel (SIGINT/SIGTERM)
skips whatever has not started. A failed step's ``on_failure`` runs right after it
(``run/handlers.py``); canary and batches are scheduled by ``run/batches.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from recovery_plugin.atomic import write_failure
from recovery_plugin.ids import write_matchup_file
from recovery_plugin.names import FAILED_IDS_NAME
from recovery_plugin.render.progress import Progress
from recovery_plugin.report.model import StepRecord
from recovery_plugin.report.result import VerificationResult
from recovery_plugin.report.writer import Report, ReportWriter
from recovery_plugin.resolve.context import RunContext
from recovery_plugin.run.batches import EARLIER_FAILURE, Ceiling, Stop, batch_policy, run_in_batches
from recovery_plugin.run.handlers import Rollbacks, StepGroups

if TYPE_CHECKING:
    from recovery_plugin.run.signals import Interrupt

__all__ = ["run_mutating_steps", "stopped_by"]

Console = Callable[[str], None]


def _run_stop_reason(record: StepRecord) -> str | None:
    from recovery_plugin.run.steps import run_stop_reason

    return run_stop_reason(record)


def stopped_by(failure: str) -> str:
    """The skip reason of every step a failed write left unstarted: the cause, not a flag."""
    return f"skipped: the run stopped: {failure}"


def _skip(record: StepRecord, reason: str) -> None:
    record.status = "skipped"
    record.error = reason


def run_mutating_steps(
    context: RunContext,
    report: Report,
    writer: ReportWriter,
    cancel: threading.Event,
    console: Console,
    progress: Progress,
    lock: StepGroups | None = None,
    interrupt: Interrupt | None = None,
) -> None:
    """``lock`` (the output lock) records each running step's process group."""
    request = context.request
    stop = Stop()
    rollbacks = Rollbacks(report)
    reprocess = [s for s in report.steps if s.name == "reprocess"]
    to_run = sum(1 for s in reprocess if s.status != "skipped")  # a resumed run's share
    ceiling = Ceiling(batch_policy(context), to_run, request.continue_on_error)

    def run(record: StepRecord) -> None:
        if record.status == "skipped":
            return
        if cancel.is_set():
            _skip(record, "not run: the run was interrupted")
            return
        if writer.failure is not None:  # a file of the run could not be written: stop
            stop.set(stopped_by(writer.failure))
        if stop.reason is not None:
            _skip(record, stop.reason)
            writer.write(report)
            return
        _run_one(context, record, report, writer, cancel, console, progress, lock)
        if not record.failed:
            return
        failure = _run_stop_reason(record)
        if failure is not None:  # its log could not be written: no later step can do better
            writer.note_failure(failure)
            stop.set(stopped_by(failure))
        rollbacks.after_failure(context, record, report, writer, cancel, console, lock)
        if record.name == "reprocess":
            reason = ceiling.failed()
            if reason is not None:
                stop.set(reason)
        elif not request.continue_on_error:
            stop.set(EARLIER_FAILURE)

    def run_all(records: list[StepRecord]) -> None:
        jobs = max(1, min(context.settings.jobs, len(records) or 1))
        if jobs == 1:
            for record in records:
                run(record)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="reprocess") as pool:
            for future in [pool.submit(run, record) for record in records]:
                future.result()

    def verify(narrowed: RunContext) -> VerificationResult | None:
        from recovery_plugin.run.verification import run_verification

        try:
            if interrupt is None:
                return run_verification(narrowed, cancel=cancel)
            with interrupt.pytest_running():
                return run_verification(narrowed, cancel=cancel)
        except OSError as exc:  # a batch's session files (a full disk): the run stops here
            writer.note_failure(write_failure(exc.filename or narrowed.run_dir, exc))
            stop.set(stopped_by(str(writer.failure)))
            return None

    ingest = report.step("ingest")
    if ingest is not None:
        run(ingest)
    progress.expect("reprocess", to_run)
    run_in_batches(
        context,
        report,
        writer,
        reprocess,
        run_all=run_all,
        verify=verify,
        stop=stop,
        cancel=cancel,
        console=console,
    )
    failed = [str(r.matchup_id) for r in reprocess if r.failed]
    if failed:
        try:
            write_matchup_file(context.run_dir / FAILED_IDS_NAME, failed)
        except OSError as exc:
            writer.note_failure(write_failure(exc.filename or FAILED_IDS_NAME, exc))
    writer.write(report)


def _run_one(
    context: RunContext,
    record: StepRecord,
    report: Report,
    writer: ReportWriter,
    cancel: threading.Event,
    console: Console,
    progress: Progress,
    lock: StepGroups | None,
) -> None:
    from recovery_plugin.run.step_call import run_context_step

    spec = context.runbook.steps[record.name]
    redactor = context.redactor
    label = record.name if record.matchup_id is None else f"{record.name} {record.matchup_id}"
    console(redactor.text(f"[{label}] running"))
    progress.step_started(redactor.text(label))
    run_context_step(
        context,
        record,
        spec,
        Path(record.output_path or context.run_dir).parent,
        cancel=cancel,
        on_change=lambda _record: writer.write(report),
        on_group_start=lock.record_step if lock else None,
        on_group_end=lock.forget_step if lock else None,
    )
    progress.step_finished(redactor.text(label))
    if record.name == "reprocess":
        progress.advance("reprocess")
    attempts = len(record.attempts)
    last_output = next((line for line in reversed(record.tail) if line.strip()), None)
    console(
        f"[{label}] {record.status} in {record.duration_s:.1f}s"
        + (f" ({attempts} attempts)" if attempts > 1 else "")
        + (f": {record.error}" if record.error else "")
        + (f"; last output: {last_output[:300]}" if record.failed and last_output else "")
    )
