"""Text and Markdown renderings of a :class:`~recovery_plugin.render.compare.Comparison`."""

from __future__ import annotations

import json

from recovery_plugin.render.compare import (
    SHOWN_DURATIONS,
    CheckChange,
    Comparison,
    DurationChange,
    EndpointChange,
    RunInfo,
    StepChange,
    ValueChange,
)
from recovery_plugin.render.summary import display_width, pad

__all__ = ["render_comparison", "render_markdown", "render_text"]


def _run(info: RunInfo) -> str:
    took = f", {info.duration_s:.2f}s" if info.duration_s is not None else ""
    return f"{info.run_id} ({info.mode}, {info.status}{took})"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _duration(change: DurationChange) -> str:
    delta = change.delta
    moved = f" ({delta:+.2f}s)" if delta is not None else ""
    return f"{_seconds(change.a)} -> {_seconds(change.b)}{moved}"


def _label(name: str, matchup_id: str | None) -> str:
    return name if matchup_id is None else f"{name} [{matchup_id}]"


def _state(status: str | None, exit_code: int | None) -> str:
    if status is None:
        return "(absent)"
    return status + (f" (exit {exit_code})" if exit_code is not None else "")


def _step(change: StepChange) -> str:
    return (
        f"{_state(change.status_a, change.exit_code_a)}"
        f" -> {_state(change.status_b, change.exit_code_b)}"
    )


def _check(change: CheckChange) -> str:
    return f"{change.outcome_a or '(absent)'} -> {change.outcome_b or '(absent)'}"


def _reason(change: CheckChange) -> str | None:
    message = change.message_b or change.message_a
    if not message:
        return None
    first = message.strip().splitlines()[0] if message.strip() else ""
    side = "B" if change.message_b else "A"
    return f"{side}: {first}"


def _endpoint(change: EndpointChange) -> str:
    name = _label(change.endpoint, change.matchup_id)
    if change.only_in:
        return f"{name}: only in run {change.only_in.upper()}"
    count = len(change.changes) + change.more_changes
    parts = [f"status {change.status_a} -> {change.status_b}"]
    if change.problem_a != change.problem_b:
        parts.append(f"problem {change.problem_a or 'none'} -> {change.problem_b or 'none'}")
    parts.append(f"{count} value(s) changed")
    return f"{name}: " + ", ".join(parts)


def _values(change: ValueChange) -> str:
    return f"{change.old or '(absent)'} -> {change.new or '(absent)'}"


def _moved(comparison: Comparison) -> tuple[list[DurationChange], int]:
    """The steps whose duration changed most (at most :data:`SHOWN_DURATIONS`), and how many
    more changed."""
    moved = [c for c in comparison.step_durations if c.delta]
    return moved[:SHOWN_DURATIONS], max(0, len(moved) - SHOWN_DURATIONS)


def _header(comparison: Comparison) -> list[str]:
    return [
        f"run A {_run(comparison.run_a)}",
        f"run B {_run(comparison.run_b)}",
        f"duration {_duration(comparison.duration)}",
    ]


def render_text(comparison: Comparison) -> str:
    lines = ["compare", *(f"  {line}" for line in _header(comparison))]
    if not comparison.changed:
        lines += ["", "No step or check changed outcome; no captured value changed."]
    if comparison.steps:
        lines += ["", f"Steps that changed outcome ({len(comparison.steps)})"]
        lines += [f"  {_label(c.name, c.matchup_id)}: {_step(c)}" for c in comparison.steps]
    if comparison.checks:
        lines += ["", f"Checks that changed outcome ({len(comparison.checks)})"]
        for check in comparison.checks:
            lines.append(f"  {check.nodeid}: {_check(check)}")
            reason = _reason(check)
            if reason:
                lines.append(f"    {reason}")
    if comparison.endpoints:
        lines += ["", f"Endpoints whose captured values changed ({len(comparison.endpoints)})"]
        for endpoint in comparison.endpoints:
            lines.append(f"  {_endpoint(endpoint)}")
            lines += [f"    {v.path}: {_values(v)}" for v in endpoint.changes]
            if endpoint.more_changes:
                lines.append(f"    (+{endpoint.more_changes} more)")
    lines += _duration_lines(comparison)
    lines += [f"note: {note}" for note in comparison.notes]
    return "\n".join(lines) + "\n"


def _duration_lines(comparison: Comparison) -> list[str]:
    shown, hidden = _moved(comparison)
    if not shown:
        return []
    width = max(display_width(c.label) for c in shown)
    lines = ["", "Step durations (largest change first)"]
    lines += [f"  {pad(c.label, width)}  {_duration(c)}" for c in shown]
    if hidden:
        lines.append(f"  (+{hidden} more steps changed duration)")
    return lines


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(comparison: Comparison) -> str:
    a, b = comparison.run_a, comparison.run_b
    lines = [
        f"## recovery-bundle compare: {a.status} -> {b.status}",
        "",
        f"- run A: `{a.run_id}` ({a.mode}, {a.status}, {_seconds(a.duration_s)})",
        f"- run B: `{b.run_id}` ({b.mode}, {b.status}, {_seconds(b.duration_s)})",
        f"- duration: {_duration(comparison.duration)}",
    ]
    if not comparison.changed:
        lines += ["", "No step or check changed outcome; no captured value changed."]
    lines += _table(
        "Steps that changed outcome",
        ("step", "run A", "run B", "error (B)"),
        [
            (
                _label(c.name, c.matchup_id),
                _state(c.status_a, c.exit_code_a),
                _state(c.status_b, c.exit_code_b),
                c.error_b,
            )
            for c in comparison.steps
        ],
    )
    lines += _table(
        "Checks that changed outcome",
        ("check", "run A", "run B", "reason"),
        [
            (c.nodeid, c.outcome_a or "(absent)", c.outcome_b or "(absent)", _reason(c))
            for c in comparison.checks
        ],
    )
    if comparison.endpoints:
        lines += ["", "### Endpoints whose captured values changed", ""]
        for endpoint in comparison.endpoints:
            lines.append(f"- **{_cell(_endpoint(endpoint))}**")
            lines += [f"  - `{v.path}`: {_cell(_values(v))}" for v in endpoint.changes]
            if endpoint.more_changes:
                lines.append(f"  - (+{endpoint.more_changes} more)")
    shown, hidden = _moved(comparison)
    if shown:
        lines += ["", "### Step durations (largest change first)", "", "| step | run A -> run B |"]
        lines.append("| --- | --- |")
        lines += [f"| {_cell(c.label)} | {_cell(_duration(c))} |" for c in shown]
        if hidden:
            lines.append(f"| (+{hidden} more) | |")
    if comparison.notes:
        lines += ["", *(f"> note: {note}" for note in comparison.notes)]
    return "\n".join(lines) + "\n"


def _table(title: str, header: tuple[str, ...], rows: list[tuple[str | None, ...]]) -> list[str]:
    """A Markdown section with one table, or nothing when there are no rows."""
    if not rows:
        return []
    lines = ["", f"### {title}", "", "| " + " | ".join(header) + " |"]
    lines.append("|" + " --- |" * len(header))
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def render_comparison(comparison: Comparison, fmt: str) -> str:
    """``text``, ``markdown`` or ``json``."""
    if fmt == "json":
        return json.dumps(comparison.to_dict(), ensure_ascii=False, indent=2) + "\n"
    return render_markdown(comparison) if fmt == "markdown" else render_text(comparison)
