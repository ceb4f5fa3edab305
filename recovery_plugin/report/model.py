"""The records a run is made of: steps and their attempts. Plain data, no behaviour beyond dicts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Attempt", "StepRecord", "StepStatus"]

StepStatus = Literal["planned", "running", "success", "failed", "timeout", "skipped", "interrupted"]
FAILED_STATUSES: frozenset[str] = frozenset({"failed", "timeout", "interrupted"})


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

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.matchup_id is None:
            del data["matchup_id"]
        return data
