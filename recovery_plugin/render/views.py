"""Reading finished runs: the terminal view of ``show``, the HTML page, and ``history``.

All of it works from the files a run leaves (the report and ``api_capture.json``), so it can be
used on a copy of a run directory attached to an incident ticket.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from recovery_plugin.errors import RecoveryError
from recovery_plugin.http.capture_file import judged_captures, read_captures
from recovery_plugin.ids import printable
from recovery_plugin.names import CAPTURE_NAME, REPORT_NAME, report_file
from recovery_plugin.procgroup import process_exists
from recovery_plugin.render.check_details import check_details
from recovery_plugin.render.failures import evidence_lines, failed_steps
from recovery_plugin.render.production import (
    batch_text,
    batch_view,
    confirmation_line,
    ids_left_line,
    notification_lines,
)
from recovery_plugin.render.summary import display_width, format_seconds, padded_labels
from recovery_plugin.report.checklist import GUIDE_PREFIXES
from recovery_plugin.report.model import step_label, verdict_line

__all__ = ["list_runs", "load_report", "render_history", "render_html", "render_text"]

_BODY_PREVIEW = 4000
_LOCK_NAME = ".recovery-bundle.lock"  # run.lock.LOCK_NAME; the views may not import run/


def load_report(path: Path) -> tuple[dict[str, Any], Path]:
    """The report at ``path`` (a report file or a run directory) and its path."""
    report_path = report_file(path)
    try:
        data = json.loads(report_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecoveryError(f"no report at {report_path}") from None
    except (OSError, ValueError) as exc:
        raise RecoveryError(f"unreadable report {report_path}: {exc}") from None
    if not isinstance(data, dict) or "steps" not in data or "run_id" not in data:
        raise RecoveryError(f"{report_path} is not a recovery-bundle report")
    return data, report_path


def render_text(report: Mapping[str, Any]) -> str:
    lines = [
        f"run {report['run_id']}  mode {report['mode']}  status {report['status']}"
        f"  duration {report.get('duration_s')} s",
        f"api {report['api_base']}  started {report.get('started_at')}",
    ]
    if report.get("resumed_from"):
        lines.append(f"resumed from {report['resumed_from']}")
    confirmed = confirmation_line(report)
    if confirmed:
        lines.append(confirmed)
    lines += ["", "Steps"]
    steps = report.get("steps", [])
    for step, label in zip(steps, padded_labels(steps), strict=True):
        timing = format_seconds(step.get("duration_s"), 7, 2)
        attempts = len(step.get("attempts") or [])
        code = step.get("exit_code")
        lines.append(
            f"  {label}  {step['status']:<11} {timing}  attempts {attempts}"
            f"  exit {'-' if code is None else code}"
        )
        if step.get("error"):
            lines.append(f"  {' ' * display_width(label)}  └ {step['error']}")
    batches = batch_text(report)
    if batches:
        lines += ["", *batches]
    failed = failed_steps(report)
    if failed:
        lines += ["", "Failed steps"]
        for step in failed:
            lines.append(f"  - {step.label}: {step.status}, cause: {step.cause}")
            lines += [f"    | {line}" for line in step.tail]
    verification = report.get("verification")
    if verification:
        lines += ["", f"Verification: {verdict_line(verification['summary'])}"]
        for test in verification.get("tests", []):
            mark = {"passed": "ok  ", "failed": "FAIL", "error": "ERR ", "skipped": "skip"}.get(
                test["outcome"], "?"
            )
            lines.append(f"  {mark} {test['nodeid']}  ({test['duration_s']:.3f}s)")
            lines += [f"       {detail}" for detail in check_details(test)]
        failures = [t for t in verification.get("tests", []) if t["outcome"] in ("failed", "error")]
        if failures:
            lines += ["", "Failures"]
            for test in failures:
                lines.append(f"  {test['nodeid']}")
                lines += [f"    {line}" for line in (test.get("message") or "").splitlines()]
    evidence = report.get("evidence")
    if evidence and evidence.get("diffs"):
        changed = [d for d in evidence["diffs"] if d.get("changed_any")]
        lines += ["", f"Evidence: {len(changed)} of {len(evidence['diffs'])} endpoint(s) changed"]
        for diff in changed:
            name = diff["endpoint"] + (f" {diff['matchup_id']}" if diff.get("matchup_id") else "")
            keys = len(diff["added"]) + len(diff["removed"]) + len(diff["changed"])
            lines.append(
                f"  {name}: status {diff['status_before']} -> {diff['status_after']}, {keys} key(s) differ"
            )
            lines += [f"    {line}" for line in evidence_lines(diff)]
    lines += ["", "Checklist"] + [f"  {line}" for line in report.get("ops_checklist", [])]
    notified = notification_lines(report)
    if notified:
        lines += ["", "Notifications"] + [f"  {line}" for line in notified]
    # Ids and messages come from outside: a terminal must not act on what they hold.
    return "\n".join(printable(line) for line in lines) + "\n"


def _timeline(
    steps: list[Mapping[str, Any]], run_start: datetime | None, total: float
) -> list[str]:
    rows = []
    for step in steps:
        for attempt in step.get("attempts") or [{"attempt": 1, **step}]:
            started = attempt.get("started_at")
            duration = attempt.get("duration_s") or 0.0
            if not started or run_start is None or total <= 0:
                continue
            offset = (datetime.fromisoformat(started) - run_start).total_seconds()
            left = max(0.0, min(100.0, offset / total * 100))
            width = max(0.5, min(100.0 - left, duration / total * 100))
            rows.append(
                f'<div class="row"><span class="label">{html.escape(step_label(step))}'
                f" #{attempt.get('attempt', 1)}</span>"
                f'<span class="track"><span class="bar {html.escape(str(attempt.get("status")))}"'
                f' style="left:{left:.2f}%;width:{width:.2f}%"'
                f' title="{html.escape(str(attempt.get("status")))} {duration:.2f}s"></span></span></div>'
            )
    return rows


def render_html(report: Mapping[str, Any], run_dir: Path) -> str:
    """One self-contained HTML page: summary, step timeline, checks, checklist, captured responses."""
    e = html.escape
    steps = list(report.get("steps", []))
    start = datetime.fromisoformat(report["started_at"]) if report.get("started_at") else None
    total = float(report.get("duration_s") or 0.0)
    step_rows = "".join(
        f'<tr class="{e(s["status"])}"><td>{e(step_label(s))}</td><td>{e(s["status"])}</td>'
        f"<td>{e(str(s.get('exit_code')))}</td><td>{len(s.get('attempts') or [])}</td>"
        f"<td>{e(str(s.get('duration_s')))}</td><td>{e(str(s.get('error') or ''))}</td></tr>"
        for s in steps
    )
    tests = (report.get("verification") or {}).get("tests", [])
    check_rows = "".join(
        f'<tr class="{e(t["outcome"])}"><td>{e(t["nodeid"])}</td><td>{e(t["outcome"])}</td>'
        f"<td>{t['duration_s']:.3f}</td><td><pre>{e(_reason_cell(t))}</pre></td></tr>"
        for t in tests
    )
    checklist = "".join(
        f'<li class="{"guide" if line.startswith(GUIDE_PREFIXES) else ""}">{e(line)}</li>'
        for line in report.get("ops_checklist", [])
    )
    captures = []
    for capture in judged_captures(read_captures(run_dir / CAPTURE_NAME)).values():
        body = capture.get("body")
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, indent=2)
        if len(text) > _BODY_PREVIEW:
            text = text[:_BODY_PREVIEW] + "\n… (truncated in this view)"
        problem = capture.get("error") or capture.get("decode_error")
        captures.append(
            f"<details><summary>{e(capture['name'])} {e(capture.get('matchup_id') or '')}"
            f" — {e(str(capture.get('status')))} in {capture.get('elapsed_s')}s</summary>"
            f"<p><code>{e(capture['url'])}</code></p>"
            + (
                f'<p class="failed">{e(problem["kind"])}: {e(problem["message"])}</p>'
                if problem
                else ""
            )
            + f"<pre>{e(text or '')}</pre></details>"
        )
    failures = "".join(
        f"<li>{e(f.label)}: {e(f.status)}, cause: {e(f.cause)}"
        + (f"<pre>{e(chr(10).join(f.tail))}</pre>" if f.tail else "")
        + "</li>"
        for f in failed_steps(report)
    )
    evidence = "".join(
        f"<li>{e(d['endpoint'])} {e(str(d.get('matchup_id') or ''))}"
        f"<pre>{e(chr(10).join(evidence_lines(d)))}</pre></li>"
        for d in (report.get("evidence") or {}).get("diffs", [])
        if d.get("changed_any")
    )
    timeline = "".join(_timeline(steps, start, total)) or "<p>No step ran.</p>"
    confirmed = confirmation_line(report)
    return f"""<!DOCTYPE html>
<html lang="{e(str(report.get("lang", "en")))}">
<head><meta charset="utf-8"><title>recovery-bundle {e(report["run_id"])}: {e(report["status"])}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}}
.success,.passed{{background:#e8f6e8}} .failed,.error,.timeout,.interrupted{{background:#fbe9e9}}
.skipped,.planned{{background:#f4f4f4}} .row{{display:flex;align-items:center;margin:2px 0}}
.label{{width:22em;font-size:.85em;overflow:hidden;white-space:nowrap}}
.track{{position:relative;flex:1;height:1em;background:#f4f4f4}}
.bar{{position:absolute;top:0;height:1em;background:#6a6}} .bar.failed,.bar.timeout,.bar.interrupted{{background:#c55}}
li.guide{{font-weight:bold}} pre{{white-space:pre-wrap;margin:0}}
</style></head>
<body>
<h1 id="status">recovery-bundle {e(report["mode"])}: {e(report["status"])}</h1>
<p>run <code>{e(report["run_id"])}</code> against <code>{e(report["api_base"])}</code>,
started {e(str(report.get("started_at")))}, {e(str(report.get("duration_s")))} s</p>
{f'<p id="confirmation">{e(confirmed)}</p>' if confirmed else ""}
<h2>Steps</h2>
<table id="steps"><tr><th>step</th><th>status</th><th>exit</th><th>attempts</th><th>seconds</th><th>error</th></tr>
{step_rows}</table>
{_batches_html(report)}<h2>Failed steps</h2><ul id="failures">{failures or "<li>None.</li>"}</ul>
<h2>Timeline</h2><div id="timeline">{timeline}</div>
<h2>Checks</h2>
<table id="checks"><tr><th>check</th><th>outcome</th><th>seconds</th><th>reason</th></tr>{check_rows}</table>
<h2>Evidence</h2><ul id="evidence">{evidence or "<li>No change.</li>"}</ul>
<h2>Checklist</h2><ul id="checklist">{checklist}</ul>
{_notifications_html(report)}<h2>Captured responses</h2><div id="captures">{"".join(captures) or "<p>None.</p>"}</div>
</body></html>
"""


def list_runs(output_dir: Path) -> list[dict[str, Any]]:
    """Every run in ``output_dir``, newest first. A report that cannot be read is listed with
    status ``unreadable``; one still ``running`` whose apply is gone (no live lock holder for it)
    is listed as ``stale``."""
    runs = []
    holder = _lock_holder(output_dir)
    for path in output_dir.glob(f"*/{REPORT_NAME}"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            data = None
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        else:
            problem = "not a recovery-bundle report"
        if not isinstance(data, dict) or "run_id" not in data:
            runs.append({"run_id": path.parent.name, "status": "unreadable", "problem": problem})
            continue
        if data.get("status") == "running" and not _held_by(holder, str(data["run_id"])):
            data = {**data, "status": "stale"}
        runs.append(data)
    runs.sort(key=lambda r: (str(r.get("started_at")), str(r.get("run_id"))), reverse=True)
    return runs


def _lock_holder(output_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((output_dir / _LOCK_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _held_by(holder: dict[str, Any] | None, run_id: str) -> bool:
    """Whether a live process holds the output directory's lock for ``run_id``."""
    import socket

    if holder is None or holder.get("run_id") != run_id:
        return False
    if holder.get("host") != socket.gethostname():
        return True  # cannot tell from here: not called stale
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    return process_exists(pid)


def render_history(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "no runs\n"
    lines = [f"{'run':<24}  {'mode':<8}  {'status':<11}  {'duration':>9}  ids"]
    for run in runs:
        ids = [str(i) for i in run.get("matchup_ids") or []]
        shown = ", ".join(ids[:3]) + (f" (+{len(ids) - 3} more)" if len(ids) > 3 else "")
        if run.get("problem"):
            shown = str(run["problem"])
        duration = run.get("duration_s")
        took = f"{duration:8.1f}s" if isinstance(duration, int | float) else "        -"
        lines.append(
            f"{run['run_id']:<24}  {run.get('mode', '?'):<8}  {run.get('status', '?'):<11}  {took}  {shown}"
        )
    return "\n".join(printable(line) for line in lines) + "\n"


def _batches_html(report: Mapping[str, Any]) -> str:
    """The Batches section (``--canary`` / ``--batch-size`` / ``--max-failures``); empty without."""
    view = batch_view(report)
    if view is None:
        return ""
    e = html.escape
    rows = "".join(
        f'<tr class="{e(row.verdict)}"><td>{e(row.label)}</td><td>{row.count}</td>'
        f"<td>{e(row.verdict)}</td><td>{e(row.summary)}</td>"
        f"<td><pre>{e(chr(10).join(row.failed_checks))}</pre></td></tr>"
        for row in view.rows
    )
    table = (
        '<table id="batches"><tr><th>batch</th><th>ids</th><th>verdict</th><th>summary</th>'
        f"<th>failed checks</th></tr>{rows}</table>"
        if view.rows
        else ""
    )
    stop = (
        f'<p id="batch-stop" class="failed">{e(view.stopped)}. {e(ids_left_line(view))}</p>'
        if view.stopped
        else ""
    )
    return f"<h2>Batches</h2><p>{e(view.policy)}</p>{table}{stop}\n"


def _notifications_html(report: Mapping[str, Any]) -> str:
    lines = notification_lines(report)
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f'<h2>Notifications</h2><ul id="notifications">{items}</ul>\n'


def _reason_cell(test: Mapping[str, Any]) -> str:
    return "\n".join([*filter(None, [test.get("message")]), *check_details(test)])
