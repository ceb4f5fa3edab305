"""Compare two runs: what changed outcome, which captured values changed, how timing moved.

Steps are matched by name and matchup id, checks by node id, captures by endpoint and matchup id
(from each run's ``api_capture.json``). Captured bodies are compared value by value: every
changed leaf with its path (``candidates[0].support``) and its old and new values, cut short.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, field
from pathlib import Path
from typing import Any

from recovery_plugin.errors import RecoveryError
from recovery_plugin.names import CAPTURE_NAME
from recovery_plugin.records import dataclass
from recovery_plugin.render.compare_captures import (
    MAX_CHANGES_PER_ENDPOINT,
    EndpointChange,
    ValueChange,
    captures_by_key,
    endpoint_changes,
    union,
)

__all__ = [
    "MAX_CHANGES_PER_ENDPOINT",
    "CheckChange",
    "Comparison",
    "DurationChange",
    "EndpointChange",
    "RunInfo",
    "StepChange",
    "ValueChange",
    "compare_run_dirs",
    "compare_runs",
]

SHOWN_DURATIONS = 10


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    status: str
    mode: str
    started_at: str | None
    duration_s: float | None
    run_dir: str


@dataclass(frozen=True)
class StepChange:
    name: str
    matchup_id: str | None
    status_a: str | None
    """None: the step is not in run A."""
    status_b: str | None
    exit_code_a: int | None
    exit_code_b: int | None
    error_b: str | None


@dataclass(frozen=True)
class CheckChange:
    nodeid: str
    outcome_a: str | None
    outcome_b: str | None
    message_a: str | None
    message_b: str | None


@dataclass(frozen=True)
class DurationChange:
    label: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        return round(self.b - self.a, 3)


@dataclass(frozen=True)
class Comparison:
    run_a: RunInfo
    run_b: RunInfo
    steps: list[StepChange]
    checks: list[CheckChange]
    endpoints: list[EndpointChange]
    duration: DurationChange
    step_durations: list[DurationChange]
    """Every step found in both runs, largest change first."""
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.steps or self.checks or self.endpoints or self.run_a.status != self.run_b.status
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changed"] = self.changed
        data["duration"]["delta"] = self.duration.delta
        for entry, change in zip(data["step_durations"], self.step_durations, strict=True):
            entry["delta"] = change.delta
        return data


def compare_run_dirs(path_a: Path, path_b: Path) -> Comparison:
    """Load two runs (run directories or report files, ``--report`` copies included) and compare
    them; a missing or unreadable one is a :class:`RecoveryError` naming it."""
    from recovery_plugin.render.views import load_report

    loaded = []
    for argument, path in (("RUN_A", path_a), ("RUN_B", path_b)):
        if not path.exists():
            raise RecoveryError(f"compare {argument}: no such run directory: {path}")
        try:
            loaded.append(load_report(path))
        except RecoveryError as exc:
            raise RecoveryError(f"compare {argument}: {exc.message}") from None
    (report_a, path_a_report), (report_b, path_b_report) = loaded
    return compare_runs(
        report_a, report_b, _run_dir(report_a, path_a_report), _run_dir(report_b, path_b_report)
    )


def _run_dir(report: Mapping[str, Any], report_path: Path) -> Path:
    """Where the run's captures are: beside the report, or, for a ``--report`` copy kept
    elsewhere, in the run directory the report names."""
    beside = report_path.parent
    named = report.get("run_dir")
    if (beside / CAPTURE_NAME).exists() or not isinstance(named, str):
        return beside
    return Path(named) if (Path(named) / CAPTURE_NAME).is_file() else beside


def compare_runs(
    report_a: Mapping[str, Any], report_b: Mapping[str, Any], run_dir_a: Path, run_dir_b: Path
) -> Comparison:
    captures_a = captures_by_key(run_dir_a, "RUN_A")
    captures_b = captures_by_key(run_dir_b, "RUN_B")
    notes = [
        f"run {which} has no {CAPTURE_NAME}: its endpoints are not compared"
        for which, captures in (("A", captures_a), ("B", captures_b))
        if captures is None
    ]
    endpoints = (
        endpoint_changes(captures_a, captures_b)
        if captures_a is not None and captures_b is not None
        else []
    )
    return Comparison(
        run_a=_info(report_a, run_dir_a),
        run_b=_info(report_b, run_dir_b),
        steps=_step_changes(report_a, report_b),
        checks=_check_changes(report_a, report_b),
        endpoints=endpoints,
        duration=DurationChange("run", _seconds(report_a), _seconds(report_b)),
        step_durations=_step_durations(report_a, report_b),
        notes=notes,
    )


def _info(report: Mapping[str, Any], run_dir: Path) -> RunInfo:
    return RunInfo(
        run_id=str(report.get("run_id")),
        status=str(report.get("status")),
        mode=str(report.get("mode")),
        started_at=report.get("started_at"),
        duration_s=_seconds(report),
        run_dir=str(run_dir),
    )


def _seconds(record: Mapping[str, Any]) -> float | None:
    value = record.get("duration_s")
    return float(value) if isinstance(value, int | float) else None


StepKey = tuple[str, str | None]


def _steps(report: Mapping[str, Any]) -> dict[StepKey, Mapping[str, Any]]:
    return {(str(s["name"]), s.get("matchup_id")): s for s in report.get("steps", [])}


def _step_label(key: StepKey) -> str:
    return key[0] if key[1] is None else f"{key[0]} [{key[1]}]"


def _changed(
    old: Mapping[Any, Mapping[str, Any]], new: Mapping[Any, Mapping[str, Any]], field_name: str
) -> Iterator[tuple[Any, Mapping[str, Any], Mapping[str, Any]]]:
    """Each key of either side whose ``field_name`` differs, with its old and new entries."""
    for key in union(old, new):
        before, after = old.get(key, {}), new.get(key, {})
        if before.get(field_name) != after.get(field_name):
            yield key, before, after


def _step_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[StepChange]:
    return [
        StepChange(
            name=key[0],
            matchup_id=key[1],
            status_a=old.get("status"),
            status_b=new.get("status"),
            exit_code_a=old.get("exit_code"),
            exit_code_b=new.get("exit_code"),
            error_b=new.get("error"),
        )
        for key, old, new in _changed(_steps(a), _steps(b), "status")
    ]


def _tests(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(t["nodeid"]): t for t in (report.get("verification") or {}).get("tests", [])}


def _check_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[CheckChange]:
    return [
        CheckChange(
            nodeid=nodeid,
            outcome_a=old.get("outcome"),
            outcome_b=new.get("outcome"),
            message_a=old.get("message"),
            message_b=new.get("message"),
        )
        for nodeid, old, new in _changed(_tests(a), _tests(b), "outcome")
    ]


def _step_durations(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[DurationChange]:
    steps_a, steps_b = _steps(a), _steps(b)
    both = [key for key in steps_a if key in steps_b]
    changes = [
        DurationChange(_step_label(key), _seconds(steps_a[key]), _seconds(steps_b[key]))
        for key in both
    ]
    return sorted(changes, key=lambda c: abs(c.delta or 0.0), reverse=True)
