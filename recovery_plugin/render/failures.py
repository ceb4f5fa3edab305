"""What the views show of a failed run: each failed step's cause and last output, and the
before/after evidence with its values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recovery_plugin.records import dataclass
from recovery_plugin.report.causes import cause_label, step_cause
from recovery_plugin.report.model import FAILED_STATUSES, step_label

__all__ = ["FailedStep", "evidence_lines", "failed_steps"]

TAIL_LINES = 10
_VALUE_CHARS = 120


@dataclass(frozen=True)
class FailedStep:
    label: str
    status: str
    cause: str
    tail: list[str]


def failed_steps(report: Mapping[str, Any]) -> list[FailedStep]:
    """Every failed, timed-out or interrupted step: its cause and its last output lines."""
    return [
        FailedStep(
            label=step_label(step),
            status=str(step["status"]),
            cause=cause_label(step_cause(step, report)),
            tail=[str(line) for line in (step.get("tail") or [])][-TAIL_LINES:],
        )
        for step in report.get("steps", [])
        if step.get("status") in FAILED_STATUSES
    ]


def evidence_lines(diff: Mapping[str, Any]) -> list[str]:
    """One line per difference, with values: ``+ key``, ``- key``, ``key: before -> after``."""
    lines = [f"+ {key}" for key in diff.get("added", [])]
    lines += [f"- {key}" for key in diff.get("removed", [])]
    for key, values in (diff.get("changed") or {}).items():
        before, after = (
            (values.get("before"), values.get("after"))
            if isinstance(values, Mapping)
            else (None, values)
        )
        lines.append(f"{key}: {_short(before)} -> {_short(after)}")
    return lines


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"
