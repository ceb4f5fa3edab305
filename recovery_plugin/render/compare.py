"""Compare two runs: what changed outcome, which captured values changed, how timing moved.

Steps are matched by name and matchup id, checks by node id, captures by endpoint and matchup id
(from each run's ``api_capture.json``). Captured bodies are compared value by value: every
changed leaf with its path (``candidates[0].support``) and its old and new values, cut short.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from recovery_plugin.errors import RecoveryError
from recovery_plugin.names import CAPTURE_NAME

__all__ = [
    "Comparison",
    "EndpointChange",
    "compare_run_dirs",
    "compare_runs",
]

MAX_VALUE_CHARS = 120
MAX_CHANGES_PER_ENDPOINT = 50
SHOWN_DURATIONS = 10
_MISSING: Any = object()


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
class ValueChange:
    path: str
    old: str | None
    """Run A's value as JSON text, cut to :data:`MAX_VALUE_CHARS` (ending in ``…``); None when
    the path is only in run B."""
    new: str | None
    kind: str = "changed"
    """``changed``, ``added`` (only in B) or ``removed`` (only in A)."""


@dataclass(frozen=True)
class EndpointChange:
    endpoint: str
    matchup_id: str | None
    status_a: int | None
    status_b: int | None
    problem_a: str | None
    """A transport or decoding error of run A's capture (``timeout: ...``), if any."""
    problem_b: str | None
    changes: list[ValueChange] = field(default_factory=list)
    more_changes: int = 0
    """Changed values past :data:`MAX_CHANGES_PER_ENDPOINT`, counted but not listed."""
    only_in: str | None = None
    """``a`` or ``b`` when only one run captured this endpoint."""


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
    """Load two runs (run directories or report files) and compare them; a missing or
    unreadable one is a :class:`RecoveryError` naming it."""
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
    return compare_runs(report_a, report_b, path_a_report.parent, path_b_report.parent)


def compare_runs(
    report_a: Mapping[str, Any], report_b: Mapping[str, Any], run_dir_a: Path, run_dir_b: Path
) -> Comparison:
    captures_a = _captures(run_dir_a, "RUN_A")
    captures_b = _captures(run_dir_b, "RUN_B")
    notes = [
        f"run {which} has no {CAPTURE_NAME}: its endpoints are not compared"
        for which, captures in (("A", captures_a), ("B", captures_b))
        if captures is None
    ]
    endpoints = (
        _endpoint_changes(captures_a, captures_b)
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
    for key in _union(old, new):
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


def _union(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> list[Any]:
    """A's keys in A's order, then B's new ones in B's order."""
    return list(a) + [key for key in b if key not in a]


CaptureKey = tuple[str, str | None]


def _captures(run_dir: Path, argument: str) -> dict[CaptureKey, Mapping[str, Any]] | None:
    """The run's captures by (endpoint, matchup id); None when it made none (a dry-run)."""
    path = run_dir / CAPTURE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        captures = data["captures"]
        return {(str(c["name"]), c.get("matchup_id")): c for c in captures}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a capture file"
        raise RecoveryError(f"compare {argument}: unreadable {path}: {reason}") from None


def _problem(capture: Mapping[str, Any]) -> str | None:
    problem = capture.get("error") or capture.get("decode_error")
    if not isinstance(problem, Mapping):
        return None
    return f"{problem.get('kind')}: {problem.get('message')}"


def _endpoint_changes(
    captures_a: Mapping[CaptureKey, Mapping[str, Any]],
    captures_b: Mapping[CaptureKey, Mapping[str, Any]],
) -> list[EndpointChange]:
    entries = []
    for key in _union(captures_a, captures_b):
        old, new = captures_a.get(key), captures_b.get(key)
        if old is None or new is None:
            entries.append(
                EndpointChange(
                    endpoint=key[0],
                    matchup_id=key[1],
                    status_a=old.get("status") if old else None,
                    status_b=new.get("status") if new else None,
                    problem_a=_problem(old) if old else None,
                    problem_b=_problem(new) if new else None,
                    only_in="a" if new is None else "b",
                    changes=[],
                )
            )
            continue
        values = list(_diff(old.get("body"), new.get("body"), ""))
        status_a, status_b = old.get("status"), new.get("status")
        problem_a, problem_b = _problem(old), _problem(new)
        if values or status_a != status_b or problem_a != problem_b:
            entries.append(
                EndpointChange(
                    endpoint=key[0],
                    matchup_id=key[1],
                    status_a=status_a,
                    status_b=status_b,
                    problem_a=problem_a,
                    problem_b=problem_b,
                    changes=values[:MAX_CHANGES_PER_ENDPOINT],
                    more_changes=max(0, len(values) - MAX_CHANGES_PER_ENDPOINT),
                )
            )
    return entries


def _diff(old: Any, new: Any, path: str) -> Iterator[ValueChange]:
    """Every leaf that differs, depth first: objects by key, arrays by index."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in _union(old, new):
            where = _join(path, str(key))
            yield from _diff(old.get(key, _MISSING), new.get(key, _MISSING), where)
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            before = old[index] if index < len(old) else _MISSING
            after = new[index] if index < len(new) else _MISSING
            yield from _diff(before, after, f"{path}[{index}]")
    elif old is _MISSING:
        yield ValueChange(path or "(body)", None, _short(new), kind="added")
    elif new is _MISSING:
        yield ValueChange(path or "(body)", _short(old), None, kind="removed")
    elif old != new or type(old) is not type(new):
        yield ValueChange(path or "(body)", _short(old), _short(new))


def _join(path: str, key: str) -> str:
    plain = key.replace("_", "").replace("-", "").isalnum()
    if plain:
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _short(value: Any) -> str:
    """The value as JSON text, cut to :data:`MAX_VALUE_CHARS` (ending in ``…``)."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
