"""What the report's ``verification`` section keeps beyond outcomes: each check's poll attempts,
contract outcome and notes, each SLO item's measurements, and the OpenAPI document used."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recovery_plugin.pytest_plugin.judge import CheckJudge
    from recovery_plugin.redact import Redactor

__all__ = ["DETAIL_KEYS", "add_check_details"]

DETAIL_KEYS = ("poll", "contract", "notes", "slo", "groups")


def add_check_details(
    verification: dict[str, Any], json_report: Mapping[str, Any], judge: CheckJudge
) -> None:
    """Copy the checks' metadata into ``verification.tests[]``, redacted, by node id."""
    redactor = judge.spec.redactor
    metadata = {
        test.get("nodeid"): test.get("metadata") or {} for test in json_report.get("tests", [])
    }
    for test in verification.get("tests", []):
        found = metadata.get(test.get("nodeid"), {})
        for key in DETAIL_KEYS:
            if key in found:
                test[key] = _masked(found[key], redactor)
    contract = judge.contract_summary()
    if contract is not None:
        verification["contract"] = contract


def _masked(value: Any, redactor: Redactor) -> Any:
    """``value`` as JSON with every secret masked: ``value`` itself when that is what it already
    is (keeping a copy of every check's details, 100,000 of them, would double what is kept)."""
    copy = json.loads(redactor.text(json.dumps(value, ensure_ascii=False)))
    return value if copy == value else copy
