"""A check's reasons by assertion group, for the report and the JUnit testcases.

A group is one kind of expectation a check applies: ``response`` (transport, status, body
decoding, ``expect_keys`` and ``expect_json``) always; ``assert``, ``reprocessed_assert``,
``max_ms``, ``effect``, ``schema`` and ``contract`` when the endpoint configures them; ``poll``
when a failing check was polled. A group that applies and has no reason passed. When the
response itself failed, the other groups were not evaluated and are not listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["GROUP_NAMES", "Groups", "flatten", "group_records"]

GROUP_NAMES = (
    "response",
    "assert",
    "reprocessed_assert",
    "max_ms",
    "effect",
    "schema",
    "contract",
    "poll",
)

Groups = dict[str, list[str]]
"""Group name -> its reasons (empty: the group passed), in the order they were evaluated."""


def flatten(groups: Mapping[str, Iterable[str]]) -> list[str]:
    """Every reason of every group, in order."""
    return [reason for reasons in groups.values() for reason in reasons]


def group_records(groups: Mapping[str, Iterable[str]]) -> list[dict[str, Any]]:
    """``verification.tests[].groups``: name, outcome and reasons of each group."""
    records = []
    for name, reasons in groups.items():
        found = reasons if isinstance(reasons, list) else list(reasons)
        records.append({"name": name, "outcome": "failed" if found else "passed", "reasons": found})
    return records
