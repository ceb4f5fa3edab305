"""JSONPath queries (RFC 9535) and JSON value helpers shared by the assertion and effect checks.

Queries use python-jsonpath in its strict (RFC 9535) mode, imported on first use: loading a
runbook never pays for it. A query of member names only (``$.a.b``, what most assertions are)
is answered here without it: importing the library costs more than a whole run of such
queries. A query yields every node it selects as (normalized path, value);
``$.options[*].value_mid`` on two options gives ``$['options'][0]['value_mid']`` and
``$['options'][1]['value_mid']``. A missing key selects nothing, which is not the same as a
key whose value is ``null``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple, Protocol

__all__ = [
    "JSON_TYPES",
    "JSONPathSyntax",
    "compile_path",
    "find",
    "is_singular",
    "json_equal",
    "json_type",
    "show",
]

JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
"""JSON Schema's type names; ``integer`` is a number without a fractional part."""

SHOW_CHARS = 120


class Match(Protocol):
    """One selected node (python-jsonpath's ``JSONPathMatch`` has the same two attributes)."""

    @property
    def path(self) -> str: ...

    @property
    def obj(self) -> object: ...


class Query(Protocol):
    """A compiled query: python-jsonpath's ``JSONPath``, or a :class:`MemberQuery`."""

    def finditer(self, data: Any) -> Iterable[Match]: ...

    def singular_query(self) -> bool: ...


class _Selected(NamedTuple):
    path: str
    obj: Any


# RFC 9535's member-name-shorthand, ASCII only: every such name is also its own normalized form.
_MEMBER_NAMES = re.compile(r"\$(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


class MemberQuery:
    """``$`` followed by ``.name`` selectors only: at most one node, found by walking objects."""

    __slots__ = ("_names", "_normalized")

    def __init__(self, path: str) -> None:
        self._names = path.split(".")[1:]
        self._normalized = "$" + "".join(f"['{name}']" for name in self._names)

    def finditer(self, data: Any) -> Iterator[_Selected]:
        node = data
        for name in self._names:
            if not isinstance(node, dict) or name not in node:
                return
            node = node[name]
        yield _Selected(self._normalized, node)

    def singular_query(self) -> bool:
        return True


_compiled: dict[str, Query] = {}
_compiled_lock = threading.Lock()


class JSONPathSyntax(ValueError):
    """The query is not valid RFC 9535 JSONPath; the message says where."""


def compile_path(path: str) -> Query:
    """The compiled query (cached); raises :class:`JSONPathSyntax` for an invalid one."""
    with _compiled_lock:
        cached = _compiled.get(path)
    if cached is not None:
        return cached
    query = MemberQuery(path) if _MEMBER_NAMES.fullmatch(path) else _library_query(path)
    with _compiled_lock:
        _compiled[path] = query
    return query


def _library_query(path: str) -> Query:
    import jsonpath  # deferred: ~70 ms, paid only when a check uses a path it must parse

    try:
        query = jsonpath.compile(path, strict=True)
    except jsonpath.JSONPathError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise JSONPathSyntax(first_line) from None
    if not isinstance(query, jsonpath.JSONPath):  # strict mode never unions; keep the type exact
        raise JSONPathSyntax(f"not a single RFC 9535 query: {path!r}")
    return query


def find(path: str, document: Any) -> list[tuple[str, Any]]:
    """Every node ``path`` selects in ``document``, as (normalized path, value), in order."""
    return [(match.path, match.obj) for match in compile_path(path).finditer(document)]


def is_singular(path: str) -> bool:
    """True when ``path`` can select at most one node (no wildcard, slice, filter, ``..``)."""
    return bool(compile_path(path).singular_query())


def json_type(value: Any) -> str:
    """The JSON type of a decoded value: ``null``, ``boolean``, ``number``, ``string``, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def has_type(value: Any, name: str) -> bool:
    """JSON Schema's notion: ``1.0`` is an ``integer`` and every integer is a ``number``."""
    if name == "integer":
        return is_number(value) and float(value).is_integer()
    return json_type(value) == name


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0``, but ``true`` is not ``1`` and ``"1"`` is not ``1``."""
    if is_number(a) and is_number(b):
        return bool(a == b)
    if json_type(a) != json_type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def show(value: Any, limit: int = SHOW_CHARS) -> str:
    """``value`` as compact JSON for a failure reason, cut to ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > limit:
        return text[: limit - 1] + "…"
    return text
