"""Rollback and clean-up that execute: a step's ``on_failure`` command, and ``[steps.finally]``.

A rollback runs once (no retries) right after its step failed or timed out, with that step's
placeholders, and lands in the report as a step of its own (``name: "rollback"``, with
``rollback_of`` and the step's ``matchup_id``), just after the step it answers. ``finally`` runs
at the end of every apply — success, failure or interrupt (Ansible's ``always``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from recovery_plugin.config.schema import FINALLY_STEP, StepSpec
from recovery_plugin.report.model import StepRecord
from recovery_plugin.report.writer import Report, ReportWriter
from recovery_plugin.resolve.context import RunContext
from recovery_plugin.resolve.plan import ROLLBACK_STEP

__all__ = ["Rollbacks", "run_finally"]

Console = Callable[[str], None]


class StepGroups(Protocol):
    """The output lock: records a running handler's process group like any step's, so a new
    apply does not start while a SIGKILLed holder's rollback or clean-up still runs."""

    def record_step(self, pgid: int) -> None: ...
    def forget_step(self, pgid: int) -> None: ...


class Rollbacks:
    """The planned rollbacks of one apply, kept out of the report until one is needed."""

    def __init__(self, report: Report) -> None:
        self._lock = threading.Lock()
        self._pending = {
            (s.rollback_of, s.matchup_id): s for s in report.steps if s.name == ROLLBACK_STEP
        }
        report.steps[:] = [s for s in report.steps if s.name != ROLLBACK_STEP]

    def after_failure(
        self,
        context: RunContext,
        failed: StepRecord,
        report: Report,
        writer: ReportWriter,
        cancel: threading.Event,
        console: Console,
        lock: StepGroups | None = None,
    ) -> StepRecord | None:
        """Run ``failed``'s rollback when it failed or timed out (not when interrupted)."""
        if failed.status not in ("failed", "timeout"):
            return None
        with self._lock:
            record = self._pending.pop((failed.name, failed.matchup_id), None)
            if record is None:
                return None
            report.steps.insert(report.steps.index(failed) + 1, record)
        handler = context.runbook.steps[failed.name].on_failure
        assert handler is not None  # a rollback is planned only for a step with on_failure
        spec = replace(
            context.runbook.steps[failed.name],
            name=ROLLBACK_STEP,
            command=tuple(record.command),
            timeout=handler.timeout,
            kill_grace=handler.kill_grace,
            retries=0,
            on_failure=None,
        )
        label = f"rollback of {failed.name}" + (
            f" {failed.matchup_id}" if failed.matchup_id is not None else ""
        )
        _run(context, record, spec, report, writer, cancel, console, label, lock)
        return record


def run_finally(
    context: RunContext,
    report: Report,
    writer: ReportWriter,
    console: Console,
    lock: StepGroups | None = None,
) -> None:
    """Run ``[steps.finally]`` once, if the runbook has one and it has not run yet."""
    record = report.step(FINALLY_STEP)
    if context.mode != "apply" or record is None or record.status != "planned":
        return
    # Its own event: an interrupted run still cleans up (a second signal stops the process).
    _run(
        context,
        record,
        context.runbook.steps[FINALLY_STEP],
        report,
        writer,
        threading.Event(),
        console,
        FINALLY_STEP,
        lock,
    )


def _run(
    context: RunContext,
    record: StepRecord,
    spec: StepSpec,
    report: Report,
    writer: ReportWriter,
    cancel: threading.Event,
    console: Console,
    label: str,
    lock: StepGroups | None = None,
) -> None:
    from recovery_plugin.run.step_call import run_context_step

    console(context.redactor.text(f"[{label}] running"))
    run_context_step(
        context,
        record,
        spec,
        Path(record.output_path or context.run_dir),
        cancel=cancel,
        on_change=lambda _record: writer.write(report),
        on_group_start=lock.record_step if lock else None,
        on_group_end=lock.forget_step if lock else None,
    )
    console(
        context.redactor.text(
            f"[{label}] {record.status} in {record.duration_s or 0:.1f}s"
            + (f": {record.error}" if record.error else "")
        )
    )
