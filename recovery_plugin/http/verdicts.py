"""The expectations a check adds to status and body subset: assertions, ``max_ms``, the
effect against the baseline, and the contract (a JSON Schema file or the OpenAPI document).

Every failure is one reason prefixed with the request (``GET /api/v1/matchups/m1: ...``); a
contract that could not be checked is a note, not a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Any

from recovery_plugin.http import assertions as assertion_engine
from recovery_plugin.http.effect import compare
from recovery_plugin.http.expectations import Expectations
from recovery_plugin.http.groups import Groups
from recovery_plugin.http.latency import check_max_ms
from recovery_plugin.records import dataclass

if TYPE_CHECKING:
    from recovery_plugin.http.capture import Capture
    from recovery_plugin.http.contract import OpenAPILoad, SchemaContract

__all__ = ["NO_BASELINE", "CheckContext", "more_reasons"]

NO_BASELINE = (
    "no baseline capture to compare with (apply captures one before the steps; "
    "verify needs --baseline RUN_DIR)"
)


@dataclass
class CheckContext:
    """What one check needs beyond its spec and capture; ``notes`` and ``contract`` are filled in."""

    expectations: Expectations
    reprocessed: bool = False
    """The check's matchup was reprocessed in this run: ``reprocessed_assert`` applies."""
    baseline: Mapping[str, Any] | None = None
    """This check's capture in the baseline file (None: no baseline)."""
    openapi: OpenAPILoad | None = None
    openapi_best_effort: bool = False
    """The built-in profile's document: one that cannot be read is a note, not a failure."""
    schema: SchemaContract | None = None
    notes: list[str] = field(default_factory=list)
    contract: dict[str, Any] | None = None


def more_reasons(spec: Any, capture: Capture, context: CheckContext) -> Groups:
    """The reasons of each group the endpoint configures beyond the response itself."""
    where = f"GET {capture.path}"
    found = context.expectations
    groups: Groups = {}
    if found.assertions:
        groups["assert"] = [
            f"{where}: {r}"
            for r in assertion_engine.evaluate(found.assertions, capture.body, capture.matchup_id)
        ]
    if context.reprocessed and found.reprocessed:
        groups["reprocessed_assert"] = [
            f"{where}: reprocessed in this run, yet {r}"
            for r in assertion_engine.evaluate(found.reprocessed, capture.body, capture.matchup_id)
        ]
    if found.max_ms is not None:
        slow = check_max_ms(capture.elapsed_s, found.max_ms)
        groups["max_ms"] = [f"{where}: {slow}"] if slow is not None else []
    if not found.effect.empty:
        if context.baseline is None:
            groups["effect"] = [f"{where}: expect_changed/expect_unchanged: {NO_BASELINE}"]
        else:
            before = context.baseline.get("body")
            groups["effect"] = [
                f"{where}: {r}" for r in compare(found.effect, before, capture.body)
            ]
    _contract_groups(capture, context, where, groups)
    return groups


def _contract_groups(capture: Capture, context: CheckContext, where: str, groups: Groups) -> None:
    from recovery_plugin.http import contract as contract_engine

    if context.schema is not None:
        result = contract_engine.check_schema(context.schema, capture.body)
        groups["schema"] = [f"{where}: schema {result.source}: {r}" for r in result.reasons]
    load = context.openapi
    if load is None or capture.status is None:
        return
    if context.openapi_best_effort and load.document is None and not load.missing:
        note = f"contract not checked: {load.problem}"
        context.contract = {"outcome": "skipped", "source": load.source, "note": note}
        context.notes.append(note)
        return
    result = contract_engine.check_openapi(load, capture.path, capture.status, capture.body)
    context.contract = {
        "outcome": result.outcome,
        "source": result.source,
        "sha256": result.sha256,
        "note": result.note,
    }
    if result.note:
        context.notes.append(result.note)
    if result.outcome != "skipped":
        groups["contract"] = [f"{where}: contract: {r}" for r in result.reasons]
