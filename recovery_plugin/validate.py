"""Declarative validation of a parsed TOML/JSON document against frozen dataclasses.

The schema is the dataclass itself: each field's annotation says what a value must be, and its
``metadata=rule(...)`` adds bounds, checks and the like. :func:`parse` turns a mapping into an
instance, or raises :class:`ValidationError` naming the source and the dotted key
(``recovery.toml: steps.ingest.timeout: must be a number, got a string``).

Supported annotations: ``str``, ``bool``, ``int``, ``float``, ``Any``, ``X | None`` (``None``
itself is never accepted from a file), a nested dataclass (a table), ``tuple[X, ...]`` and
``frozenset[X]`` (a list), and ``Mapping[str, X]`` (a table). A table of dataclasses merges
entry by entry onto the ``base`` instance's mapping; every other value replaces the base's.
Rules between keys of one table go in a ``post_validate(self, given)`` method of its dataclass
(``given``: the keys the table set), which raises :class:`Invalid`.

Standard library only, and cheap to import: the simulated service uses it too.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from recovery_plugin.records import dataclass

__all__ = [
    "JSON_WORDING",
    "TOML_WORDING",
    "Invalid",
    "ValidationError",
    "Wording",
    "document_keys",
    "parse",
    "rule",
]

T = TypeVar("T")
_RULE = "recovery_plugin.validate"


class ValidationError(ValueError):
    """A document does not match its schema; the message names the source and the key."""


class Invalid(Exception):
    """Raised by a :func:`rule` check: ``problem`` with the value at the field's key + ``at``."""

    def __init__(self, problem: str, at: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.at = at


@dataclass(frozen=True)
class Wording:
    """How one kind of document names its tables and reports an unknown key."""

    table: str
    array_of_tables: str
    unknown_key: str
    """Formatted with ``key`` (dotted) and ``known`` (the allowed keys, comma-separated)."""


TOML_WORDING = Wording(
    table="a table",
    array_of_tables="an array of tables",
    unknown_key="{key}: unknown key (known keys: {known})",
)
JSON_WORDING = Wording(
    table="an object",
    array_of_tables="an array of objects",
    unknown_key="unknown key {key!r} (allowed: {known})",
)


@dataclass(frozen=True)
class _Rule:
    in_file: bool = True
    minimum: float | None = None
    above: float | None = None
    maximum: float | None = None
    allow_empty: bool = False
    expected: str | None = None
    check: Callable[[Any], None] | None = None
    key_check: Callable[[str], None] | None = None
    reset_with: str | None = None


def rule(
    *,
    in_file: bool = True,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    allow_empty: bool = False,
    expected: str | None = None,
    check: Callable[[Any], None] | None = None,
    key_check: Callable[[str], None] | None = None,
    reset_with: str | None = None,
) -> dict[str, Any]:
    """Field metadata for :func:`parse` (``field(default=..., metadata=rule(...))``).

    - ``in_file=False``: not a document key (set by the program).
    - ``minimum`` / ``above`` / ``maximum``: bounds of a number (of each item of a list).
    - ``allow_empty``: a string (each string of a list or table) may be blank.
    - ``expected``: what the value must be, in words, for every type or bound error
      (``"an integer >= 0"``); by default it is said from the annotation and the bounds.
    - ``check(value)``: called with the converted value; raises :class:`Invalid`.
    - ``key_check(key)``: called with each key of a table field; raises :class:`Invalid`.
    - ``reset_with="command"``: when the document sets ``command`` but not this field, the
      field takes its dataclass default instead of the base's value.
    """
    return {
        _RULE: _Rule(
            in_file, minimum, above, maximum, allow_empty, expected, check, key_check, reset_with
        )
    }


_NO_RULE = _Rule()


@dataclass(frozen=True)
class _Field:
    name: str
    type: Any
    rule: _Rule
    required: bool


_FIELDS: dict[type, tuple[_Field, ...]] = {}


def _fields(cls: type) -> tuple[_Field, ...]:
    cached = _FIELDS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        field_rule = f.metadata.get(_RULE, _NO_RULE)
        if not field_rule.in_file:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        found.append(_Field(f.name, hints[f.name], field_rule, required))
    _FIELDS[cls] = tuple(found)
    return _FIELDS[cls]


def document_keys(cls: type) -> tuple[str, ...]:
    """The keys a document may set for dataclass ``cls``, in field order."""
    return tuple(f.name for f in _fields(cls))


def parse(
    cls: type[T],
    data: object,
    *,
    source: str,
    base: T | None = None,
    wording: Wording = TOML_WORDING,
) -> T:
    """``data`` as a ``cls``: keys it does not set come from ``base`` (else the defaults)."""
    return typing.cast(T, _Parser(source, wording).table(cls, data, "", base))


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _kind(value: object, wording: Wording) -> str:
    if isinstance(value, dict):
        return wording.table
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}
    if type(value) in names:
        return names[type(value)]
    if isinstance(value, list):
        return "an array"
    return "null" if value is None else type(value).__name__


class _Parser:
    def __init__(self, source: str, wording: Wording) -> None:
        self.source = source
        self.wording = wording

    def fail(self, key: str, problem: str) -> ValidationError:
        return ValidationError(
            f"{self.source}: {key}: {problem}" if key else f"{self.source}: {problem}"
        )

    def unknown(self, key: str, known: Collection[str]) -> ValidationError:
        text = self.wording.unknown_key.format(key=key, known=", ".join(sorted(known)))
        return ValidationError(f"{self.source}: {text}")

    def wrong_type(
        self, key: str, expected: str, value: object, field_rule: _Rule
    ) -> ValidationError:
        return self.fail(
            key, f"must be {field_rule.expected or expected}, got {_kind(value, self.wording)}"
        )

    def mapping(self, value: object, key: str, field_rule: _Rule = _NO_RULE) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.wrong_type(key, self.wording.table, value, field_rule)
        return value

    def table(self, cls: type[Any], data: object, key: str, base: Any) -> Any:
        table = self.mapping(data, key)
        fields = _fields(cls)
        known = {f.name for f in fields}
        for name in table:
            if name not in known:
                raise self.unknown(_join(key, name), known)
        changes: dict[str, Any] = {}
        for f in fields:
            where = _join(key, f.name)
            if f.name in table:
                inherited = getattr(base, f.name) if base is not None else None
                value = self.value(f.type, table[f.name], where, f.rule, inherited)
                if f.rule.check is not None:
                    self.run_check(f.rule.check, value, where)
                changes[f.name] = value
            elif f.rule.reset_with is not None and f.rule.reset_with in table:
                changes[f.name] = _default_of(cls, f.name)
            elif f.required and base is None:
                raise self.fail(where, "is required")
        instance = dataclasses.replace(base, **changes) if base is not None else cls(**changes)
        post_validate = getattr(instance, "post_validate", None)
        if post_validate is not None:
            self.run_check(post_validate, frozenset(table), key)
        return instance

    def run_check(self, check: Callable[[Any], None], value: object, key: str) -> None:
        try:
            check(value)
        except Invalid as exc:
            raise self.fail(key + exc.at, exc.problem) from None

    def value(self, tp: Any, value: object, key: str, field_rule: _Rule, base: Any = None) -> Any:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if tp is Any:
            return value
        if origin in (typing.Union, types.UnionType):
            (inner,) = (a for a in args if a is not type(None))
            return self.value(inner, value, key, field_rule, base)
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self.table(tp, value, key, base)
        if origin in (tuple, frozenset):
            return origin(self.items(args[0], value, key, field_rule))
        if origin is Mapping:
            return self.entries(args[1], value, key, field_rule, base)
        return self.scalar(tp, value, key, field_rule)

    def items(self, item_type: Any, value: object, key: str, field_rule: _Rule) -> list[Any]:
        if not isinstance(value, list):
            raise self.wrong_type(key, _list_of(item_type, self.wording), value, field_rule)
        item_rule = dataclasses.replace(field_rule, expected=None, check=None)
        return [self.value(item_type, v, f"{key}[{i}]", item_rule) for i, v in enumerate(value)]

    def entries(
        self, value_type: Any, value: object, key: str, field_rule: _Rule, base: Any
    ) -> dict[str, Any]:
        table = self.mapping(value, key, field_rule)
        merge = dataclasses.is_dataclass(value_type)
        result: dict[str, Any] = dict(base) if merge and base is not None else {}
        entry_rule = dataclasses.replace(field_rule, expected=None, check=None, key_check=None)
        for name, raw in table.items():
            where = f"{key}.{name}"
            if field_rule.key_check is not None:
                self.run_check(field_rule.key_check, name, where)
            inherited = result.get(name) if merge else None
            result[name] = self.value(value_type, raw, where, entry_rule, inherited)
        return result

    def scalar(self, tp: type, value: object, key: str, field_rule: _Rule) -> Any:
        if tp is bool:
            if not isinstance(value, bool):
                raise self.wrong_type(key, "true or false", value, field_rule)
            return value
        if tp is str:
            if not isinstance(value, str):
                raise self.wrong_type(key, "a string", value, field_rule)
            if not field_rule.allow_empty and not value.strip():
                raise self.fail(key, "must not be empty")
            return value
        if tp is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.wrong_type(key, "an integer", value, field_rule)
            self.bounds(value, key, field_rule, integer=True)
            return value
        if tp is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.wrong_type(key, "a number", value, field_rule)
            if not math.isfinite(value):
                raise self.fail(
                    key, f"must be {field_rule.expected or 'a finite number'}, got {value!r}"
                )
            self.bounds(value, key, field_rule, integer=False)
            return float(value)
        raise TypeError(f"recovery_plugin.validate: unsupported annotation {tp!r} at {key}")

    def bounds(self, value: float, key: str, field_rule: _Rule, *, integer: bool) -> None:
        low, above, high = field_rule.minimum, field_rule.above, field_rule.maximum
        if low is not None and high is not None and integer:
            wanted = f"an integer {low:g}..{high:g}" if not low <= value <= high else ""
        elif low is not None and value < low:
            wanted = f"at least {low:g}"
        elif above is not None and value <= above:
            wanted = f"greater than {above:g}"
        elif high is not None and value > high:
            wanted = f"at most {high:g}"
        else:
            wanted = ""
        if wanted:
            raise self.fail(key, f"must be {field_rule.expected or wanted}, got {value!r}")


def _list_of(item_type: Any, wording: Wording) -> str:
    if dataclasses.is_dataclass(item_type):
        return wording.array_of_tables
    plural = {str: "strings", int: "integers", float: "numbers", bool: "booleans"}
    return f"a list of {plural.get(item_type, 'values')}"


def _default_of(cls: type, name: str) -> Any:
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            return f.default
    raise KeyError(name)
