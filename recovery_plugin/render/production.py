"""What the views show of a production run: each batch and its verdict, where the run stopped
and why, the ids left to do; who confirmed the apply; the notifications sent about it.

The report's ``batches`` (``--canary`` / ``--batch-size``) has it all. A run with only
``--max-failures`` has no batches: its stop is read from the reprocess steps the ceiling
skipped (their ``error`` names it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from recovery_plugin.records import dataclass

__all__ = [
    "BatchRow",
    "BatchView",
    "batch_text",
    "batch_view",
    "confirmation_line",
    "ids_left_line",
    "notification_lines",
]

SHOWN_IDS = 10
"""Ids left to do listed one by one; the rest are counted."""
SHOWN_CHECKS = 5
"""Failed checks listed per batch; the rest are counted (every one is in the report)."""
_BY_NOTES = {
    "tty": " (typed at a terminal)",
    "config": " (the runbook's confirm policy asked nothing)",
}
_SKIPPED = "skipped: "
_CEILING = "skipped: --max-failures "
_POLICY_FLAGS = (
    ("canary", "--canary"),
    ("batch_size", "--batch-size"),
    ("max_failures", "--max-failures"),
)


@dataclass(frozen=True)
class BatchRow:
    label: str
    """``canary 1/3`` or ``batch 2/3``."""
    count: int
    verdict: str
    summary: str
    failed_checks: list[str]


@dataclass(frozen=True)
class BatchView:
    policy: str
    """The flags as given: ``--canary 1 --batch-size 50% --max-failures 1``."""
    rows: list[BatchRow]
    stopped: str | None
    """``stopped after batch 1: canary batch 1 failed (...)``; None when nothing was cut short."""
    ids_left: list[str]


def _reason(text: str) -> str:
    return text[len(_SKIPPED) :] if text.startswith(_SKIPPED) else text


def batch_view(report: Mapping[str, Any]) -> BatchView | None:
    """The batches of ``report`` and where it stopped; None for a run that was not scheduled."""
    batches = report.get("batches")
    if isinstance(batches, Mapping):
        return _from_batches(batches)
    return _from_ceiling(report.get("steps") or [])


def _from_batches(batches: Mapping[str, Any]) -> BatchView:
    items = list(batches.get("items") or [])
    rows = [
        BatchRow(
            label=f"{item['kind']} {item['index']}/{len(items)}",
            count=len(item.get("ids") or []),
            verdict=str(item["verdict"]),
            summary=_reason(str(item.get("summary") or "")),
            failed_checks=[str(c) for c in item.get("failed_checks") or []],
        )
        for item in items
    ]
    policy = " ".join(
        f"{flag} {batches[key]}" for key, flag in _POLICY_FLAGS if batches.get(key) is not None
    )
    left = [str(i) for i in batches.get("ids_left") or []]
    stopped = None
    if left:
        reason = _reason(str(batches.get("stop_reason") or "the run was interrupted"))
        after = batches.get("stopped_after")
        stopped = (
            f"stopped after batch {after}: {reason}" if after is not None else f"stopped: {reason}"
        )
    return BatchView(policy, rows, stopped, left)


def _from_ceiling(steps: Sequence[Mapping[str, Any]]) -> BatchView | None:
    cut = [
        s
        for s in steps
        if s.get("name") == "reprocess"
        and s.get("status") == "skipped"
        and str(s.get("error") or "").startswith(_CEILING)
    ]
    if not cut:
        return None
    reason = _reason(str(cut[0]["error"]))
    flag = reason.split(" crossed", 1)[0]
    left = [str(s.get("matchup_id")) for s in cut]
    return BatchView(flag, [], f"stopped: {reason}", left)


def ids_left_line(view: BatchView) -> str:
    """``2 id(s) left to do: a, b`` (at most :data:`SHOWN_IDS` named)."""
    shown = ", ".join(view.ids_left[:SHOWN_IDS])
    more = len(view.ids_left) - SHOWN_IDS
    return f"{len(view.ids_left)} id(s) left to do: {shown}" + (
        f" (+{more} more)" if more > 0 else ""
    )


def batch_text(report: Mapping[str, Any], indent: str = "  ") -> list[str]:
    """The batches as aligned lines (the console summary and ``show``); [] when unscheduled."""
    view = batch_view(report)
    if view is None:
        return []
    lines = [f"Batches ({view.policy})" if view.policy else "Batches"]
    width = max((len(row.label) for row in view.rows), default=0)
    for row in view.rows:
        lines.append(
            f"{indent}{row.label:<{width}}  {row.count:>3} id(s)  {row.verdict:<11}  {row.summary}".rstrip()
        )
        for check in row.failed_checks[:SHOWN_CHECKS]:
            lines.append(f"{indent}{' ' * width}  failed check: {check}")
        if len(row.failed_checks) > SHOWN_CHECKS:
            more = len(row.failed_checks) - SHOWN_CHECKS
            lines.append(f"{indent}{' ' * width}  ... and {more} more failed check(s)")
    if view.stopped:
        lines += [f"{indent}{view.stopped}", f"{indent}{ids_left_line(view)}"]
    return lines


def confirmation_line(report: Mapping[str, Any]) -> str | None:
    """``confirmed by --yes: user alice on host ops-1 at 2026-...``; None when not recorded."""
    confirmation = report.get("confirmation")
    if not isinstance(confirmation, Mapping):
        return None
    raw = str(confirmation.get("by"))
    by = raw + _BY_NOTES.get(raw, "")
    return (
        f"confirmed by {by}: user {confirmation.get('user')} on host {confirmation.get('host')}"
        f" at {confirmation.get('at')}"
    )


def notification_lines(report: Mapping[str, Any]) -> list[str]:
    """``notify.webhooks[0] https://hooks.example/***: delivered (HTTP 200, 1 attempt(s))``, or
    ``not delivered: <error>``, per webhook posted; [] when none was."""
    lines = []
    for record in report.get("notifications") or []:
        where = f"{record.get('webhook')} {record.get('url')}"
        attempts = f"{record.get('attempts')} attempt(s)"
        if record.get("delivered"):
            lines.append(f"{where}: delivered (HTTP {record.get('http_status')}, {attempts})")
        else:
            lines.append(f"{where}: not delivered after {attempts}: {record.get('error')}")
    return lines
