"""The runbook report: one JSON document per run, rewritten atomically at every state change.

A reader (or a crash) always finds either no report or a whole, valid one. Every string passes
through the redactor before it is written. A write that fails (a full disk) never raises into
the run: the first failure is kept in :attr:`ReportWriter.failure` (the run stops on it), and the
final report is shortened until it fits (:func:`_shortened`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import field
from pathlib import Path
from typing import Any

from recovery_plugin.atomic import write_bytes_atomic, write_failure, write_json_atomic
from recovery_plugin.clock import now_iso
from recovery_plugin.names import REPORT_NAME
from recovery_plugin.records import dataclass
from recovery_plugin.redact import Redactor
from recovery_plugin.report.checklist import build_checklist
from recovery_plugin.report.model import FAILED_STATUSES, Confirmation, StepRecord
from recovery_plugin.report.result import NO_HOOKS, ReportHooks

__all__ = ["SCHEMA_VERSION", "Report", "ReportWriter"]

SCHEMA_VERSION = 1


@dataclass
class Report:
    run_id: str
    mode: str
    api_base: str
    output_dir: str
    run_dir: str
    started_at: str
    matchup_ids: list[str] = field(default_factory=list)
    poll_fingerprint: str | None = None
    config_source: str = "built-in default profile"
    config_path: str | None = None
    lang: str = "en"
    preflight: dict[str, bool] = field(default_factory=dict)
    unmasked_secrets: list[str] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    status: str = "running"
    finished_at: str | None = None
    duration_s: float | None = None
    readiness: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    ops_checklist: list[str] = field(default_factory=list)
    error: str | None = None
    resumed_from: str | None = None
    evidence: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    preflight_problems: list[str] = field(default_factory=list)
    preflight_overridden: bool = False
    ids_to_redo: list[str] = field(default_factory=list)
    """The ids a re-apply must still do (set by the finisher)."""
    batches: dict[str, Any] | None = None
    confirmation: Confirmation | None = None
    """Who let an apply start (set before its first write); None for dry-run and verify."""

    def step(self, name: str, matchup_id: str | None = None) -> StepRecord | None:
        return next((s for s in self.steps if s.name == name and s.matchup_id == matchup_id), None)

    def overall_status(self) -> str:
        if self.mode == "dry-run":
            return "dry-run"
        if any(s.status == "interrupted" for s in self.steps):
            return "interrupted"
        if any(s.status in FAILED_STATUSES for s in self.steps):
            return "failed"
        return "success"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "status": self.status,
            "mode": self.mode,
            "api_base": self.api_base,
            "matchup_id": self.matchup_ids[0] if self.matchup_ids else None,
            "matchup_ids": list(self.matchup_ids),
            "poll_fingerprint": self.poll_fingerprint,
            "output_dir": self.output_dir,
            "run_dir": self.run_dir,
            "config_source": self.config_source,
            "config_path": self.config_path,
            "lang": self.lang,
            "resumed_from": self.resumed_from,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": self.duration_s,
            "preflight": dict(self.preflight),
            "unmasked_secrets": list(self.unmasked_secrets),
            "preflight_problems": list(self.preflight_problems),
            "preflight_overridden": self.preflight_overridden,
            "confirmation": self.confirmation.to_dict() if self.confirmation else None,
            "steps": [s.to_dict() for s in self.steps],
            "readiness": self.readiness,
            "verification": self.verification,
            "evidence": self.evidence,
            "batches": self.batches,
            "ops_checklist": list(self.ops_checklist),
            "error": self.error,
            "warnings": list(self.warnings),
            "ids_to_redo": list(self.ids_to_redo),
            "generated_at": now_iso(),
        }


class ReportWriter:
    """Writes the report to ``<run_dir>/recovery_bundle_report.json`` (and a copy, if asked)."""

    def __init__(
        self,
        run_dir: Path,
        redactor: Redactor,
        copy_to: Path | None = None,
        *,
        min_interval: float = 0.25,
    ) -> None:
        self.path = run_dir / REPORT_NAME
        self.copy_to = copy_to
        self.redactor = redactor
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._state = threading.Lock()
        self._last_write = float("-inf")
        self._pending: Report | None = None
        self._timer: threading.Timer | None = None
        self.failure: str | None = None
        """The first file of the run that could not be written, and why (``disk full writing
        <path>: ...``); set by the writer itself or by whoever failed (:meth:`note_failure`)."""
        self.shortened = False

    def note_failure(self, reason: str) -> None:
        """A file of the run could not be written: ``reason`` ends the run (the first one wins)."""
        with self._state:
            if self.failure is None:
                self.failure = reason

    def write(self, report: Report) -> None:
        """Save the current state; writes closer together than ``min_interval`` are coalesced.

        With hundreds of steps, rewriting the whole report at every change would cost time that
        grows with the square of the step count. A deferred write lands at most ``min_interval``
        later, and :meth:`finalize` always writes at once.
        """
        with self._lock:
            wait = self._last_write + self.min_interval - time.monotonic()
            if wait <= 0:
                self._write_now(report)
                return
            self._pending = report
            if self._timer is None:
                self._timer = threading.Timer(wait, self._flush)
                self._timer.daemon = True
                self._timer.start()

    def _flush(self) -> None:
        with self._lock:
            self._timer = None
            if self._pending is not None:
                self._write_now(self._pending)

    def _write_now(self, report: Report) -> None:
        self._pending = None
        try:
            self._write_all(self.redactor.obj(report.to_dict()))
        except OSError as exc:  # kept, not raised: the run stops on it and the final write retries
            self.note_failure(write_failure(exc.filename or self.path, exc))
        self._last_write = time.monotonic()

    def finalize(
        self,
        report: Report,
        *,
        finished_at: str,
        duration_s: float,
        hooks: ReportHooks = NO_HOOKS,
    ) -> dict[str, Any]:
        """Set the final status and checklist, give hooks their look, and write the report."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._pending = None
            report.finished_at = finished_at
            report.duration_s = round(duration_s, 3)
            if report.status == "running":
                report.status = report.overall_status()
            payload = report.to_dict()
            checklist = build_checklist(payload, report.lang)
            hooks.checklist(payload, checklist)
            report.ops_checklist = checklist
            payload["ops_checklist"] = checklist
            hooks.last_look(payload)
            redacted: dict[str, Any] = self.redactor.obj_shared(payload)
            self._write_final(redacted)
            return redacted

    def _write_final(self, payload: dict[str, Any]) -> None:
        """The whole report; on a full disk, shorter ones; as a last resort the stale report is
        removed first to make room (it says ``running``: worse than a shortened final one)."""
        for level in range(3):
            candidate = _shortened(payload, level)
            try:
                write_json_atomic(self.path, candidate)
            except OSError as exc:
                self.note_failure(write_failure(exc.filename or self.path, exc))
                continue
            self.shortened = level > 0
            self._write_copy(candidate)
            return
        self._replace_stale(candidate)

    def _replace_stale(self, shortest: dict[str, Any]) -> None:
        """No room for even the shortest report beside the stale one (``running``): remove the
        stale one to make room, but only when the new one is no larger (else keep it)."""
        data = (json.dumps(shortest, ensure_ascii=False, indent=2, default=str) + "\n").encode()
        try:
            if len(data) > self.path.stat().st_size:
                return
            self.path.unlink()
            write_bytes_atomic(self.path, data)
        except OSError:
            return
        self.shortened = True
        self._write_copy(shortest)

    def _write_copy(self, payload: dict[str, Any]) -> None:
        if self.copy_to is None:
            return
        try:
            write_json_atomic(self.copy_to, payload)
        except OSError as exc:
            self.note_failure(write_failure(exc.filename or self.copy_to, exc))

    def _write_all(self, payload: dict[str, Any]) -> None:
        write_json_atomic(self.path, payload)
        if self.copy_to is not None:
            write_json_atomic(self.copy_to, payload)


_SHORT_MESSAGE = 200


def _shortened(payload: dict[str, Any], level: int) -> dict[str, Any]:
    """The report as it is (level 0), or shorter for a disk too full to take it: without the
    steps' output tails and with each check's message cut (1); also without the passed checks'
    entries and the evidence diffs (2). Each says what was dropped in ``warnings``."""
    if level == 0:
        return payload
    steps = [{**step, "tail": []} for step in payload.get("steps", [])]
    verification = payload.get("verification")
    tests = (verification or {}).get("tests", [])
    cut = [
        {**t, "message": t["message"][:_SHORT_MESSAGE]} if isinstance(t.get("message"), str) else t
        for t in tests
    ]
    note = "report shortened to fit a full disk: {}"
    short = {
        **payload,
        "steps": steps,
        "verification": {**verification, "tests": cut} if verification else verification,
        "warnings": [*payload.get("warnings", []), note.format("step tails dropped, messages cut")],
    }
    failed = [t for t in cut if t.get("outcome") not in ("passed", "skipped")]
    evidence = payload.get("evidence")
    shortest = {
        **short,
        "verification": {**verification, "tests": failed} if verification else verification,
        "evidence": {**evidence, "diffs": []} if evidence else evidence,
        "warnings": [
            *payload.get("warnings", []),
            note.format("step tails, passed checks and evidence diffs dropped, messages cut"),
        ],
    }
    return short if level == 1 else shortest
