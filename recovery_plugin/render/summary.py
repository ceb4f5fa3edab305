"""The short human summary printed at the end of a run: a line per step, counts, guides, paths."""

from __future__ import annotations

import shlex
import unicodedata
from collections.abc import Mapping
from typing import Any

__all__ = ["render_summary"]

GUIDE_PREFIXES = ("retry-guide:", "rollback-guide:")


def display_width(text: str) -> int:
    """Terminal columns of ``text`` (Hangul and other wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def step_label(step: Mapping[str, Any]) -> str:
    """``ingest``, ``capture``, or ``reprocess [<matchup id>]``."""
    if step.get("matchup_id") is None:
        return str(step["name"])
    return f"{step['name']} [{step['matchup_id']}]"


def render_summary(report: Mapping[str, Any], report_path: str) -> list[str]:
    duration = report.get("duration_s")
    took = f" in {duration:.1f}s" if isinstance(duration, int | float) else ""
    lines = [f"recovery-bundle {report['mode']}: {report['status']}{took} (run {report['run_id']})"]
    steps = report.get("steps", [])
    width = max((display_width(step_label(s)) for s in steps), default=0)
    for step in steps:
        seconds = step.get("duration_s")
        timing = f"{seconds:6.1f}s" if isinstance(seconds, int | float) else "      -"
        attempts = len(step.get("attempts") or [])
        extra = f"  ({attempts} attempts)" if attempts > 1 else ""
        if step["name"] == "capture" and report.get("verification"):
            s = report["verification"]["summary"]
            extra += (
                f"  {s['passed']} passed, {s['failed']} failed, {s['error']} errors of {s['total']}"
            )
        lines.append(f"  {pad(step_label(step), width)}  {step['status']:<11} {timing}{extra}")
        if step.get("status") == "planned" and step.get("command") and step["name"] != "capture":
            lines.append(f"      $ {shlex.join(step['command'])}")
    for line in report.get("ops_checklist", []):
        if line.startswith(GUIDE_PREFIXES):
            lines.append(line)
    if report.get("error"):
        lines.append(f"error: {report['error']}")
    lines.append(f"report: {report_path}")
    return lines
