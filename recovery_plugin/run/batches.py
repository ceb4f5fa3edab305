"""Scheduling the reprocess steps: a canary, then batches, each verified before the next, under
a failure ceiling.

Without ``--canary``/``--batch-size`` every id runs at once (``--jobs`` at a time). With them,
each batch's ids are verified by a session narrowed to those ids (its files under
``<run dir>/batches/batch-<n>/``); a canary that fails (a failed step or a failed check) stops
the rest, and so does a later batch whose checks fail. ``--max-failures`` stops scheduling new
steps once more reprocess steps failed than it allows: steps already running finish, the rest
are ``skipped`` with the reason. The report's ``batches`` shows each batch, its verdict and
where the run stopped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import field, replace
from typing import Any

from recovery_plugin.records import dataclass
from recovery_plugin.report.model import StepRecord, verdict_line
from recovery_plugin.report.result import VerificationResult
from recovery_plugin.report.writer import Report, ReportWriter
from recovery_plugin.resolve.batching import BatchPolicy, parse_batch_policy
from recovery_plugin.resolve.context import RunContext

__all__ = ["BATCHES_DIR", "Ceiling", "Stop", "batch_policy", "plan_batches", "run_in_batches"]

BATCHES_DIR = "batches"
EARLIER_FAILURE = "skipped: an earlier step failed (use --continue-on-error to run it anyway)"

Console = Callable[[str], None]
RunOne = Callable[[StepRecord], None]
VerifyIds = Callable[[RunContext], VerificationResult | None]


def batch_policy(context: RunContext) -> BatchPolicy:
    request = context.request
    return parse_batch_policy(request.canary, request.batch_size, request.max_failures)


class Stop:
    """Set once, with the reason every step not yet started is skipped for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason

    def is_set(self) -> bool:
        return self.reason is not None


@dataclass
class Ceiling:
    """Counts failed reprocess steps; says when scheduling must stop."""

    policy: BatchPolicy
    total: int
    continue_on_error: bool
    failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def failed(self) -> str | None:
        """Record one failure; the reason to stop, if this one crossed the ceiling."""
        with self._lock:
            self.failures += 1
            failures = self.failures
        limit = self.policy.failure_limit(self.total)
        if limit is None:
            return None if self.continue_on_error else EARLIER_FAILURE
        if failures <= limit:
            return None
        flag = self.policy.max_failures.text if self.policy.max_failures else "?"
        return (
            f"skipped: --max-failures {flag} crossed ({failures} reprocess step(s) failed,"
            f" {limit} allowed)"
        )


@dataclass
class _Batch:
    """One batch of reprocess steps (the canary or a ``--batch-size`` slice) and its verdict."""

    index: int
    kind: str
    records: list[StepRecord]
    verdict: str = "planned"
    summary: str | None = None
    failed_checks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "ids": [str(r.matchup_id) for r in self.records],
            "verdict": self.verdict,
            "summary": self.summary,
            "failed_checks": list(self.failed_checks),
        }


def _runnable(records: Sequence[StepRecord]) -> list[StepRecord]:
    return [r for r in records if r.status != "skipped"]


def _publish(report: Report, policy: BatchPolicy, batches: list[_Batch], stop: Stop) -> None:
    stopped_after = next(
        (b.index for b in reversed(batches) if b.verdict in ("passed", "failed")), None
    )
    left = [str(r.matchup_id) for b in batches for r in b.records if r.status == "skipped"]
    report.batches = {
        "canary": policy.canary.text if policy.canary else None,
        "batch_size": policy.batch_size.text if policy.batch_size else None,
        "max_failures": policy.max_failures.text if policy.max_failures else None,
        "stopped_after": stopped_after if stop.is_set() and left else None,
        "stop_reason": stop.reason if left else None,
        "ids_left": left,
        "items": [b.to_dict() for b in batches],
    }


def plan_batches(context: RunContext, report: Report) -> None:
    """dry-run: the batches an apply would run, each ``planned``."""
    policy = batch_policy(context)
    records = _runnable([s for s in report.steps if s.name == "reprocess"])
    ids = [str(r.matchup_id) for r in records]
    split = policy.split(ids)
    if not split:
        return
    by_id = {str(r.matchup_id): r for r in records}
    batches = [
        _Batch(i, kind, [by_id[m] for m in batch_ids])
        for i, (kind, batch_ids) in enumerate(split, start=1)
    ]
    _publish(report, policy, batches, Stop())


def run_in_batches(
    context: RunContext,
    report: Report,
    writer: ReportWriter,
    records: list[StepRecord],
    *,
    run_all: Callable[[list[StepRecord]], None],
    verify: VerifyIds,
    stop: Stop,
    cancel: threading.Event,
    console: Console,
) -> None:
    """Run ``records`` as the policy says; without batches, all at once through ``run_all``."""
    policy = batch_policy(context)
    runnable = _runnable(records)
    by_id = {str(r.matchup_id): r for r in runnable}
    split = policy.split(list(by_id))
    if not split:
        run_all(records)
        return
    batches = [
        _Batch(i, kind, [by_id[m] for m in ids]) for i, (kind, ids) in enumerate(split, start=1)
    ]
    _publish(report, policy, batches, stop)
    for batch in batches:
        if stop.is_set() or cancel.is_set():
            run_all(batch.records)  # marks each skipped, with the reason
            batch.verdict = "skipped"
            batch.summary = stop.reason or "not run: the run was interrupted"
            _publish(report, policy, batches, stop)
            continue
        name = f"{batch.kind} {batch.index}/{len(batches)}"
        console(f"[{name}] reprocessing {len(batch.records)} id(s)")
        batch.verdict = "running"
        _publish(report, policy, batches, stop)
        writer.write(report)
        run_all(batch.records)
        _judge(context, batch, verify, stop, cancel)
        console(f"[{name}] {batch.verdict}: {batch.summary}")
        _publish(report, policy, batches, stop)
        writer.write(report)


def _judge(
    context: RunContext, batch: _Batch, verify: VerifyIds, stop: Stop, cancel: threading.Event
) -> None:
    failed = [r for r in batch.records if r.failed]
    done = f"{len(batch.records) - len(failed)} of {len(batch.records)} reprocessed"
    if cancel.is_set():
        batch.verdict, batch.summary = "interrupted", f"{done}; not verified: interrupted"
        return
    ids = tuple(str(r.matchup_id) for r in batch.records)
    directory = context.run_dir / BATCHES_DIR / f"batch-{batch.index}"
    directory.mkdir(parents=True, exist_ok=True)
    narrowed = replace(
        context,
        matchup_ids=ids,
        run_dir=directory,
        request=replace(context.request, junit_xml=None),
    )
    result = verify(narrowed)
    summary = (result.verification or {}).get("summary") if result is not None else None
    checks = f"checks: {verdict_line(summary)}" if summary else "checks: did not report"
    checks_ok = result is not None and result.healthy
    batch.failed_checks = _failed_checks(result)
    batch.summary = f"{done}; {checks}"
    batch.verdict = "passed" if checks_ok and not failed else "failed"
    if batch.verdict == "failed" and (batch.kind == "canary" or not checks_ok):
        why = "its checks failed" if not checks_ok else f"{len(failed)} reprocess step(s) failed"
        name = "canary batch" if batch.kind == "canary" else "batch"  # not "batch batch 2"
        stop.set(f"skipped: {name} {batch.index} failed ({why})")


def _failed_checks(result: VerificationResult | None) -> list[str]:
    """``nodeid: first line of the reason`` for each check of a batch that failed or errored."""
    tests = (result.verification or {}).get("tests", []) if result is not None else []
    failed = []
    for test in tests:
        if test.get("outcome") in ("failed", "error"):
            reason = (test.get("message") or "").strip().splitlines()
            failed.append(f"{test['nodeid']}: {reason[0]}" if reason else str(test["nodeid"]))
    return failed
