"""The records a run is made of (steps and their attempts), and how a report names them in prose."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field, fields
from typing import Any, Literal

from recovery_plugin.records import dataclass

__all__ = [
    "FAILED_STATUSES",
    "Attempt",
    "Confirmation",
    "ConfirmedBy",
    "StepRecord",
    "StepStatus",
    "step_label",
    "verdict_line",
]

ConfirmedBy = Literal["tty", "--yes", "config"]
StepStatus = Literal["planned", "running", "success", "failed", "timeout", "skipped", "interrupted"]
FAILED_STATUSES: frozenset[str] = frozenset({"failed", "timeout", "interrupted"})


@dataclass(frozen=True)
class Confirmation:
    """Who let a mutating run start: the terminal's answer, ``--yes``, or the runbook's policy
    (``config``: it needed no confirmation). The report's ``confirmation``."""

    by: ConfirmedBy
    user: str
    host: str
    at: str

    def to_dict(self) -> dict[str, str]:
        return {"by": self.by, "user": self.user, "host": self.host, "at": self.at}


@dataclass
class Attempt:
    attempt: int
    status: StepStatus
    exit_code: int | None
    started_at: str
    duration_s: float
    log_path: str
    error: str | None = None


@dataclass
class StepRecord:
    name: str
    mode: str
    command: list[str]
    status: StepStatus = "planned"
    exit_code: int | None = None
    output_path: str | None = None
    error: str | None = None
    matchup_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    log_path: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    log_truncated_at: int | None = None
    """The log's cap in bytes when the step's output outgrew it (the earliest output dropped)."""
    stopped: list[int] = field(default_factory=list)
    """Pids of processes the step left behind (e.g. a ``setsid`` daemon), stopped by the harness."""
    left_running: list[int] = field(default_factory=list)
    """Pids of processes the step left behind that the harness could not stop."""
    rollback_of: str | None = None
    """For a ``rollback`` step: the name of the step whose failure it answers."""

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """``asdict(self)`` without ``matchup_id`` and ``rollback_of`` when they are None, made
        directly: the report is written with every step, and ``asdict`` deep-copies each value
        (a tenth of a dry-run of 5,000 ids)."""
        data: dict[str, Any] = {}
        for name in _STEP_FIELDS:
            value = getattr(self, name)
            if value is None and name in _LEFT_OUT_WHEN_NONE:
                continue
            if isinstance(value, list):
                value = [
                    {key: getattr(v, key) for key in _ATTEMPT_FIELDS}
                    if isinstance(v, Attempt)
                    else v
                    for v in value
                ]
            data[name] = value
        return data


_STEP_FIELDS = tuple(f.name for f in fields(StepRecord))
_ATTEMPT_FIELDS = tuple(f.name for f in fields(Attempt))
_LEFT_OUT_WHEN_NONE = frozenset({"matchup_id", "rollback_of"})


def step_label(step: Mapping[str, Any]) -> str:
    """``ingest``, ``capture``, or ``reprocess [<matchup id>]`` for a step of a report."""
    if step.get("matchup_id") is None:
        return str(step["name"])
    return f"{step['name']} [{step['matchup_id']}]"


def verdict_line(summary: Mapping[str, Any]) -> str:
    """``3 passed, 1 failed, 0 errors of 4`` for a report's ``verification.summary``."""
    return (
        f"{summary['passed']} passed, {summary['failed']} failed,"
        f" {summary['error']} errors of {summary['total']}"
    )
