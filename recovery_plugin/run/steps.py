"""One mutating step, run with its retry policy; every attempt lands in the step's record."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from recovery_plugin.atomic import NO_SPACE
from recovery_plugin.clock import interruptible_sleep, now_iso
from recovery_plugin.config import StepSpec
from recovery_plugin.names import attempt_log_name
from recovery_plugin.redact import Redactor
from recovery_plugin.report.model import Attempt, StepRecord, StepStatus
from recovery_plugin.run.process import GroupHook, ProcessResult, no_group_hook, run_process
from recovery_plugin.run.steplog import LOG_FAILURE_PREFIX

if TYPE_CHECKING:
    from tenacity.wait import wait_base

__all__ = ["backoff_wait", "ends_the_run", "run_step", "run_stop_reason"]


def backoff_wait(spec: StepSpec) -> wait_base:
    """The wait after failed attempt n: ``backoff * 2**(n-1)`` plus up to ``backoff / 2`` of
    jitter, never more than ``max_backoff``."""
    import tenacity

    return tenacity.wait_exponential_jitter(
        multiplier=spec.backoff, jitter=spec.backoff / 2, max=spec.max_backoff
    )


def _status(result: ProcessResult) -> StepStatus:
    if result.cancelled:
        return "interrupted"
    if result.timed_out:
        return "timeout"
    return "success" if result.ok else "failed"


def _worth_retrying(spec: StepSpec, result: ProcessResult) -> bool:
    if result.ok or result.cancelled or result.log_failed:
        return False  # a full disk does not empty itself between attempts
    if result.timed_out or not spec.retry_on_exit_codes:
        return True
    return result.exit_code in spec.retry_on_exit_codes


def ends_the_run(record: StepRecord) -> bool:
    """The step's log could not be written (a full disk): no later step can do better."""
    return bool(record.attempts) and str(record.attempts[-1].error or "").startswith(
        LOG_FAILURE_PREFIX
    )


def run_stop_reason(record: StepRecord) -> str | None:
    """Why the run stops after ``record``: ``disk full writing <log>: No space left on device``
    (or ``cannot write <log>: ...``); None when the step does not end the run."""
    if not ends_the_run(record):
        return None
    # "cannot write the step log <path>: <strerror>; process group stopped"
    error = str(record.attempts[-1].error).removeprefix(LOG_FAILURE_PREFIX).strip()
    detail = error.split("; process group stopped", 1)[0]
    full = any(os.strerror(code) in detail for code in NO_SPACE)
    return f"{'disk full writing' if full else 'cannot write'} {detail}"


def run_step(
    record: StepRecord,
    spec: StepSpec,
    argv: Sequence[str],
    *,
    step_dir: Path,
    env: Mapping[str, str],
    cwd: Path | None,
    redactor: Redactor,
    cancel: threading.Event,
    on_change: Callable[[StepRecord], None] = lambda record: None,
    on_group_start: GroupHook = no_group_hook,
    on_group_end: GroupHook = no_group_hook,
) -> StepRecord:
    """Run ``argv`` under ``spec``'s retries (exponential backoff with jitter, capped).

    ``on_group_start`` / ``on_group_end`` get each attempt's process group id (the lock)."""
    import tenacity  # deferred: only an apply run pays for it

    record.status = "running"
    record.started_at = now_iso()
    clock_start = time.monotonic()
    on_change(record)

    def attempt_once() -> ProcessResult:
        number = len(record.attempts) + 1
        result = run_process(
            argv,
            log_path=step_dir / attempt_log_name(number),
            timeout=spec.timeout,
            redactor=redactor,
            cwd=cwd,
            env=env,
            kill_grace=spec.kill_grace,
            cancel=cancel,
            max_log_bytes=spec.max_log_bytes,
            on_group_start=on_group_start,
            on_group_end=on_group_end,
        )
        record.attempts.append(
            Attempt(
                attempt=number,
                status=_status(result),
                exit_code=result.exit_code,
                started_at=result.started_at,
                duration_s=result.duration_s,
                log_path=str(result.log_path),
                error=result.error,
            )
        )
        record.log_path = str(result.log_path)
        record.tail = result.tail
        record.log_truncated_at = result.log_truncated_at
        record.stopped += result.stopped
        record.left_running += result.left_running
        on_change(record)
        return result

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(spec.retries + 1) | tenacity.stop_when_event_set(cancel),
        wait=backoff_wait(spec),
        retry=tenacity.retry_if_result(lambda result: _worth_retrying(spec, result)),
        sleep=lambda seconds: interruptible_sleep(cancel, seconds),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
    )
    result: ProcessResult = retrying(attempt_once)
    record.status = _status(result)
    record.exit_code = result.exit_code
    record.error = _error_text(record, result)
    record.finished_at = now_iso()
    record.duration_s = round(time.monotonic() - clock_start, 3)
    on_change(record)
    return record


def _error_text(record: StepRecord, result: ProcessResult) -> str | None:
    if result.ok:
        return None
    attempts = len(record.attempts)
    plural = "s" if attempts != 1 else ""
    if result.error:
        return f"{result.error} (after {attempts} attempt{plural})"
    return f"exited with code {result.exit_code} (after {attempts} attempt{plural})"
