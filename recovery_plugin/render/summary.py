"""The short human summary printed at the end of a run: a line per step, counts, guides, paths."""

from __future__ import annotations

import shlex
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from recovery_plugin.ids import printable
from recovery_plugin.render.production import batch_text
from recovery_plugin.report.checklist import GUIDE_PREFIXES
from recovery_plugin.report.model import step_label, verdict_line

__all__ = ["display_width", "format_seconds", "pad", "padded_labels", "render_summary"]


def display_width(text: str) -> int:
    """Terminal columns of ``text`` (Hangul and other wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def padded_labels(steps: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each step's label, padded so that what follows lines up in a column."""
    labels = [step_label(step) for step in steps]
    width = max((display_width(label) for label in labels), default=0)
    return [pad(label, width) for label in labels]


def format_seconds(value: Any, width: int, decimals: int) -> str:
    """``  12.3s`` right-aligned in ``width + 1`` columns, or a ``-`` there when not a number."""
    if isinstance(value, int | float):
        return f"{value:{width}.{decimals}f}s"
    return " " * width + "-"


def render_summary(report: Mapping[str, Any], report_path: str) -> list[str]:
    duration = report.get("duration_s")
    took = f" in {duration:.1f}s" if isinstance(duration, int | float) else ""
    lines = [f"recovery-bundle {report['mode']}: {report['status']}{took} (run {report['run_id']})"]
    steps = report.get("steps", [])
    for step, label in zip(steps, padded_labels(steps), strict=True):
        timing = format_seconds(step.get("duration_s"), 6, 1)
        attempts = len(step.get("attempts") or [])
        extra = f"  ({attempts} attempts)" if attempts > 1 else ""
        if step["name"] == "capture" and report.get("verification"):
            extra += "  " + verdict_line(report["verification"]["summary"])
        lines.append(f"  {label}  {step['status']:<11} {timing}{extra}")
        if step.get("status") == "planned" and step.get("command") and step["name"] != "capture":
            lines.append(f"      $ {shlex.join(step['command'])}")
    lines += [f"  {line}" for line in batch_text(report)]
    for line in report.get("ops_checklist", []):
        if line.startswith(GUIDE_PREFIXES):
            lines.append(line)
    if report.get("error"):
        lines.append(f"error: {report['error']}")
    lines.append(f"report: {report_path}")
    # Ids and errors come from outside: a terminal must not act on what they hold.
    return [printable(line) for line in lines]
