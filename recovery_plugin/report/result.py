"""What a verification session hands back: a :class:`VerificationResult` value.

The session never touches the report or its writer; :func:`recovery_plugin.report.finish.finish_report`
applies this value to the report. Hooks travel as a :class:`ReportHooks` relay, called by the
finisher at the moment the report is completed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any, Protocol

from recovery_plugin.records import dataclass
from recovery_plugin.redact import Redactor

__all__ = ["NO_HOOKS", "ReportHooks", "VerificationResult", "summarise"]

INTERRUPTED_EXIT = 2
"""pytest's exit status for an interrupted session (``pytest.ExitCode.INTERRUPTED``)."""
INTERNAL_ERROR_EXIT = 3
"""pytest's exit status for an internal error (``pytest.ExitCode.INTERNAL_ERROR``)."""


class ReportHooks(Protocol):
    """The report hooks (``pytest_recovery_checklist`` / ``pytest_recovery_report``)."""

    def checklist(self, report: dict[str, Any], checklist: list[str]) -> None: ...

    def last_look(self, report: dict[str, Any]) -> None: ...


class _NoHooks:
    def checklist(self, report: dict[str, Any], checklist: list[str]) -> None:
        return None

    def last_look(self, report: dict[str, Any]) -> None:
        return None


NO_HOOKS: ReportHooks = _NoHooks()


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of one verification session."""

    exitstatus: int
    """pytest's exit status."""
    verification: Mapping[str, Any] | None
    """``summary`` and ``tests``, merged from pytest-json-report; None if the session never got
    as far as reporting its outcomes."""
    readiness: Mapping[str, Any] | None = None
    duration_s: float = 0.0
    log_path: str | None = None
    internal_error: str | None = None
    """The last line of a pytest INTERNALERROR, when there was one."""
    hooks: ReportHooks = field(default=NO_HOOKS)

    @property
    def healthy(self) -> bool:
        if self.verification is None:
            return False
        summary = self.verification["summary"]
        return (
            self.exitstatus == 0
            and summary["failed"] == 0
            and summary["error"] == 0
            and summary["total"] > 0
        )


def summarise(json_report: Mapping[str, Any], redactor: Redactor) -> dict[str, Any]:
    """The runbook's ``verification`` section, from a pytest-json-report document."""
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    tests = []
    for test in json_report.get("tests", []):
        outcome = _outcome(test.get("outcome"))
        counts[outcome] = counts.get(outcome, 0) + 1
        stages = [
            test[when] for when in ("setup", "call", "teardown") if isinstance(test.get(when), dict)
        ]
        metadata = test.get("metadata") or {}
        tests.append(
            {
                "nodeid": test.get("nodeid"),
                "endpoint": metadata.get("endpoint"),
                "matchup_id": metadata.get("matchup_id"),
                "outcome": outcome,
                "duration_s": round(sum(float(s.get("duration", 0.0)) for s in stages), 4),
                "message": redactor.text(_message(stages)) if outcome != "passed" else None,
            }
        )
    summary = {**counts, "total": len(tests)}
    return {"summary": summary, "tests": tests}


_OUTCOMES = {"xfailed": "skipped", "xpassed": "passed"}


def _outcome(recorded: Any) -> str:
    """The report's word for a test's outcome: an expected failure is skipped, an unexpected
    pass passed, and a test with subtests (pytest-json-report says ``subtests passed``) what
    it came to."""
    outcome = str(recorded)
    if outcome.startswith("subtests "):
        outcome = outcome[len("subtests ") :]
    return _OUTCOMES.get(outcome, outcome)


def _message(stages: list[dict[str, Any]]) -> str:
    for stage in stages:
        if stage.get("outcome") in ("failed", "skipped") or stage.get("longrepr"):
            crash = stage.get("crash") or {}
            text = crash.get("message") or stage.get("longrepr") or ""
            return str(text)[:2000]
    return ""
