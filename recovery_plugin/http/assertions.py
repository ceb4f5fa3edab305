"""JSONPath assertions on a response body (``[[endpoints.assert]]``), with precise failure reasons.

An assertion is ``path``, ``op`` and (except for ``exists``/``absent``) ``value``::

    [[endpoints.assert]]
    path = "$.options[*].value_mid"
    op = ">="
    value = 0

Semantics: the path (RFC 9535 JSONPath) selects zero or more nodes. Every selected node must
satisfy the operator; a path that selects nothing fails, naming the path — except ``absent``,
which passes only when nothing is selected, and ``exists``, which needs one node or more.
String values may use ``{matchup_id}`` (the id the check requested; regex-escaped for
``matches``). ``matches`` is a search (``re.search``): anchor with ``^...$`` for a full match.
Numbers compare as numbers (``1 == 1.0``); ``true`` never equals ``1``.

Parsing (:func:`parse_assertions`) is cheap and import-free; :func:`check_paths` compiles every
path (importing the JSONPath library) so a bad path is a config error before anything runs.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
from collections.abc import Sequence
from typing import Any

from recovery_plugin.errors import ConfigError, config_table
from recovery_plugin.http.jsonpaths import (
    JSON_TYPES,
    JSONPathSyntax,
    compile_path,
    find,
    has_type,
    is_number,
    is_singular,
    json_equal,
    json_type,
    show,
)
from recovery_plugin.records import dataclass

__all__ = [
    "OPERATORS",
    "Assertion",
    "check_paths",
    "evaluate",
    "fill_matchup_id",
    "holds",
    "parse_assertion",
    "parse_assertions",
]

_ORDER_OPS = ("<", "<=", ">", ">=")
_LEN_OPS = ("len ==", "len !=", "len <", "len <=", "len >", "len >=")
OPERATORS = ("==", "!=", *_ORDER_OPS, "in", "matches", "exists", "absent", *_LEN_OPS, "type")
_NO_VALUE = ("exists", "absent")
_KEYS = ("op", "path", "value")
MAX_NODE_REASONS = 5
"""Failing nodes listed per assertion; the rest are counted."""

_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@dataclass(frozen=True)
class Assertion:
    """One ``[[endpoints.assert]]`` entry; ``where`` is its config location, for errors."""

    path: str
    op: str
    value: Any = None
    where: str = ""

    @property
    def uses_matchup_id(self) -> bool:
        return "{matchup_id}" in repr(self.value)

    def label(self, matchup_id: str | None = None) -> str:
        """``$.has_data == true``: the assertion as an operator reads it."""
        if self.op in _NO_VALUE:
            return f"{self.path} {self.op}"
        value = fill_matchup_id(self.value, matchup_id)
        shown = f"/{value}/" if self.op == "matches" else show(value)
        return f"{self.path} {self.op} {shown}"


# --- parsing ----------------------------------------------------------------------------------


def parse_assertions(raw: object, where: str) -> tuple[Assertion, ...]:
    """Validate an array of assertion tables; ``where`` names it (``file: endpoints[2].assert``)."""
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: must be an array of tables, got {json_type(raw)}")
    return tuple(parse_assertion(item, f"{where}[{i}]") for i, item in enumerate(raw))


def parse_assertion(raw: object, where: str) -> Assertion:
    """Validate one assertion table; every error names ``where`` and the key."""
    raw = config_table(raw, where, _KEYS, f"a table with path, op and value, got {json_type(raw)}")
    path = raw.get("path")
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(f"{where}.path: required: a JSONPath such as '$.has_data'")
    if not path.startswith("$"):
        raise ConfigError(f"{where}.path: a JSONPath starts with '$', got {path!r}")
    op = raw.get("op")
    known = ", ".join(OPERATORS)
    if op is None:
        raise ConfigError(f"{where}.op: required (known: {known})")
    if not isinstance(op, str) or op not in OPERATORS:
        raise ConfigError(f"{where}.op: unknown operator {op!r} (known: {known})")
    if op in _NO_VALUE:
        if "value" in raw:
            raise ConfigError(f"{where}.value: operator '{op}' takes no value")
        return Assertion(path=path, op=op, where=where)
    if "value" not in raw:
        raise ConfigError(f"{where}.value: required for operator '{op}'")
    value = raw["value"]
    _check_value(op, value, f"{where}.value")
    return Assertion(path=path, op=op, value=value, where=where)


def _check_value(op: str, value: Any, key: str) -> None:
    _check_json(value, key)
    if op in _ORDER_OPS and not (is_number(value) or isinstance(value, str)):
        raise ConfigError(
            f"{key}: operator '{op}' needs a number or a string, got {json_type(value)}"
        )
    if op == "in" and not isinstance(value, list):
        raise ConfigError(
            f"{key}: operator 'in' needs an array of allowed values, got {json_type(value)}"
        )
    if op in _LEN_OPS and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise ConfigError(f"{key}: operator '{op}' needs an integer >= 0, got {show(value)}")
    if op == "matches":
        if not isinstance(value, str):
            raise ConfigError(f"{key}: operator 'matches' needs a regular expression string")
        try:
            re.compile(value.replace("{matchup_id}", "id"))
        except re.error as exc:
            raise ConfigError(f"{key}: invalid regular expression {value!r}: {exc}") from None
    if op == "type":
        names = value if isinstance(value, list) else [value]
        bad = [n for n in names if n not in JSON_TYPES]
        if not names or bad:
            got = show(bad[0]) if bad else "[]"
            raise ConfigError(
                f"{key}: unknown JSON type {got} (known: {', '.join(JSON_TYPES)}; or an array of them)"
            )


def _check_json(value: Any, key: str) -> None:
    if isinstance(value, datetime.date | datetime.time):
        raise ConfigError(f"{key}: TOML dates and times are not JSON values; quote it as a string")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}: must be a finite number, got {value!r}")
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{key}[{i}]")
    elif isinstance(value, dict):
        for name, item in value.items():
            _check_json(item, f"{key}.{name}")


def check_paths(assertions: Sequence[Assertion]) -> None:
    """Compile every path; raise :class:`ConfigError` naming ``<where>.path`` for a bad one."""
    for assertion in assertions:
        try:
            compile_path(assertion.path)
        except JSONPathSyntax as exc:
            raise ConfigError(
                f"{assertion.where}.path: invalid JSONPath {assertion.path!r}: {exc}"
            ) from None


# --- evaluation -------------------------------------------------------------------------------


def fill_matchup_id(value: Any, matchup_id: str | None, *, regex: bool = False) -> Any:
    """``value`` with ``{matchup_id}`` replaced in every string (left as is without an id)."""
    if matchup_id is None:
        return value
    if isinstance(value, str):
        return value.replace("{matchup_id}", re.escape(matchup_id) if regex else matchup_id)
    if isinstance(value, list):
        return [fill_matchup_id(v, matchup_id, regex=regex) for v in value]
    if isinstance(value, dict):
        return {k: fill_matchup_id(v, matchup_id, regex=regex) for k, v in value.items()}
    return value


def evaluate(
    assertions: Sequence[Assertion], body: Any, matchup_id: str | None = None
) -> list[str]:
    """Every reason ``body`` fails ``assertions``; empty when all hold."""
    reasons: list[str] = []
    for assertion in assertions:
        reasons.extend(_failures(assertion, body, matchup_id))
    return reasons


def holds(assertion: Assertion, body: Any, matchup_id: str | None = None) -> bool:
    return not _failures(assertion, body, matchup_id)


def _failures(assertion: Assertion, body: Any, matchup_id: str | None) -> list[str]:
    label = assertion.label(matchup_id)
    try:
        nodes = find(assertion.path, body)
    except JSONPathSyntax as exc:
        return [f"{label}: invalid JSONPath: {exc}"]
    if assertion.op == "absent":
        if not nodes:
            return []
        where, value = nodes[0]
        more = f" (and {len(nodes) - 1} more)" if len(nodes) > 1 else ""
        return [f"{label}: present at {where} = {show(value)}{more}"]
    if not nodes:
        return [f"{label}: no match for {assertion.path} in the response"]
    if assertion.op == "exists":
        return []
    expected = fill_matchup_id(assertion.value, matchup_id, regex=assertion.op == "matches")
    bad = [
        (where, why) for where, value in nodes if (why := _mismatch(assertion.op, value, expected))
    ]
    single = len(nodes) == 1 and is_singular(assertion.path)
    reasons = [
        f"{label}: {why}" if single else f"{label}: at {where}: {why}"
        for where, why in bad[:MAX_NODE_REASONS]
    ]
    if len(bad) > MAX_NODE_REASONS:
        reasons.append(f"{label}: {len(bad) - MAX_NODE_REASONS} more of {len(nodes)} matches fail")
    return reasons


def _mismatch(op: str, actual: Any, expected: Any) -> str | None:
    """Why ``actual`` fails ``op expected``, or None when it satisfies it."""
    got = f"got {show(actual)}"
    if op == "==":
        return None if json_equal(actual, expected) else got
    if op == "!=":
        return None if not json_equal(actual, expected) else got
    if op == "in":
        return (
            None
            if any(json_equal(actual, e) for e in expected)
            else f"{got}, not one of {show(expected)}"
        )
    if op == "type":
        names = expected if isinstance(expected, list) else [expected]
        return None if any(has_type(actual, n) for n in names) else f"{got} ({json_type(actual)})"
    if op == "matches":
        if not isinstance(actual, str):
            return f"{got} ({json_type(actual)}); 'matches' needs a string"
        return None if _regex(expected).search(actual) else f"{got}, which does not match"
    if op in _LEN_OPS:
        if not isinstance(actual, str | list | dict):
            return f"{got} ({json_type(actual)}), which has no length"
        size = len(actual)
        return None if _COMPARE[op.removeprefix("len ")](size, expected) else f"got length {size}"
    comparable = (is_number(actual) and is_number(expected)) or (
        isinstance(actual, str) and isinstance(expected, str)
    )
    if not comparable:
        return f"{got} ({json_type(actual)}), not comparable with a {json_type(expected)}"
    return None if _COMPARE[op](actual, expected) else got


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
