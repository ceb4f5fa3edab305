"""A Markdown rendering of a report: for incident tickets and the GitHub Actions step summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recovery_plugin.ids import printable
from recovery_plugin.render.check_details import check_details
from recovery_plugin.render.failures import evidence_lines, failed_steps
from recovery_plugin.render.production import (
    batch_view,
    confirmation_line,
    ids_left_line,
    notification_lines,
)
from recovery_plugin.report.checklist import GUIDE_PREFIXES
from recovery_plugin.report.model import step_label, verdict_line

__all__ = ["render_markdown"]


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _batches(report: Mapping[str, Any]) -> list[str]:
    view = batch_view(report)
    if view is None:
        return []
    lines = ["", f"### Batches: `{_cell(view.policy)}`", ""]
    if view.rows:
        lines += [
            "| batch | ids | verdict | summary | failed checks |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {_cell(row.label)} | {row.count} | {_cell(row.verdict)} | {_cell(row.summary)}"
            f" | {_cell('; '.join(row.failed_checks))} |"
            for row in view.rows
        ]
    if view.stopped:
        lines += ["", f"**{_cell(view.stopped)}.** {_cell(ids_left_line(view))}"]
    return lines


def render_markdown(report: Mapping[str, Any]) -> str:
    lines = [
        f"## recovery-bundle {report['mode']}: {report['status']}",
        "",
        f"- run: `{report['run_id']}`  api: `{report['api_base']}`  duration: {report.get('duration_s')} s",
        *([f"- {_cell(confirmed)}"] if (confirmed := confirmation_line(report)) else []),
        "",
        "| step | status | exit code | duration (s) | error |",
        "| --- | --- | --- | --- | --- |",
    ]
    for step in report.get("steps", []):
        name = step_label(step)
        lines.append(
            f"| {_cell(name)} | {_cell(step['status'])} | {_cell(step.get('exit_code'))}"
            f" | {_cell(step.get('duration_s'))} | {_cell(step.get('error'))} |"
        )
    lines += _batches(report)
    verification = report.get("verification")
    if verification:
        lines += [
            "",
            f"### Checks: {verdict_line(verification['summary'])}",
            "",
            "| check | outcome | reason |",
            "| --- | --- | --- |",
        ]
        for test in verification.get("tests", []):
            reason = "; ".join([*filter(None, [test.get("message")]), *check_details(test)])
            lines.append(
                f"| {_cell(test['nodeid'])} | {_cell(test['outcome'])} | {_cell(reason)} |"
            )
    failed = failed_steps(report)
    if failed:
        lines += ["", "### Failed steps", ""]
        for step in failed:
            lines.append(
                f"- **{_cell(step.label)}**: {_cell(step.status)}, cause: {_cell(step.cause)}"
            )
            if step.tail:
                lines += ["", "  ```text", *(f"  {line}" for line in step.tail), "  ```"]
    changed = [d for d in (report.get("evidence") or {}).get("diffs", []) if d.get("changed_any")]
    if changed:
        lines += ["", "### Evidence (before -> after)", ""]
        for diff in changed:
            name = diff["endpoint"] + (f" {diff['matchup_id']}" if diff.get("matchup_id") else "")
            lines.append(
                f"- {_cell(name)}: status {diff.get('status_before')} -> {diff.get('status_after')}"
            )
            lines += [f"  - `{_cell(line)}`" for line in evidence_lines(diff)]
    guides = [line for line in report.get("ops_checklist", []) if line.startswith(GUIDE_PREFIXES)]
    if guides:
        lines += ["", "### Guides", ""] + [f"- {_cell(line)}" for line in guides]
    notified = notification_lines(report)
    if notified:
        lines += ["", "### Notifications", ""] + [f"- {_cell(line)}" for line in notified]
    # Printed by ``show --format markdown`` too: no control character reaches a terminal.
    return "\n".join(printable(line) for line in lines) + "\n"
