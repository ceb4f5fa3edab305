"""One check's outcomes beyond pass/fail, in words: the assertion groups that failed, poll
attempts, contract, notes, SLO values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["check_details"]


def check_details(test: Mapping[str, Any]) -> list[str]:
    """Short lines for ``show`` and the summaries; empty for a plain check."""
    lines: list[str] = []
    groups = [g for g in test.get("groups") or [] if isinstance(g, Mapping)]
    failed = [str(g.get("name")) for g in groups if g.get("outcome") == "failed"]
    if failed and len(groups) > 1:  # a lone failed group says no more than the reason
        passed = [str(g.get("name")) for g in groups if g.get("outcome") == "passed"]
        lines.append(
            f"groups failed: {', '.join(failed)}"
            + (f" (passed: {', '.join(passed)})" if passed else "")
        )
    poll = test.get("poll")
    if isinstance(poll, Mapping):
        attempts = poll.get("attempts") or []
        statuses = ", ".join(str(a.get("status")) for a in attempts)
        lines.append(
            f"polled: {poll.get('outcome')} after {len(attempts)} attempt(s) over"
            f" {poll.get('duration_s')} s (statuses {statuses})"
        )
    contract = test.get("contract")
    if isinstance(contract, Mapping) and contract.get("outcome") != "passed":
        lines.append(f"contract: {contract.get('outcome')}")
    lines += [f"note: {note}" for note in test.get("notes") or []]
    slo = test.get("slo")
    if isinstance(slo, Mapping):
        lines.append(
            f"slo: p95 {slo.get('p95_ms')} ms, p99 {slo.get('p99_ms')} ms,"
            f" error rate {slo.get('error_rate')} over {slo.get('samples')} check(s)"
        )
    return lines
