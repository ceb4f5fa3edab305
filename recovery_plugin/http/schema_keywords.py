"""The keywords the contract's fast path models, each as a predicate on a decoded JSON value.

Each test is jsonschema's own (the same comparisons, the same notion of a type, of equality),
so a predicate built from them says "valid" exactly when jsonschema does; see
:mod:`recovery_plugin.http.fast_schema`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any, Literal

__all__ = [
    "Draft",
    "Predicate",
    "Unsupported",
    "all_of",
    "always",
    "bound",
    "combine",
    "enum_check",
    "never",
    "type_check",
    "validating_keywords",
]

Draft = Literal["draft4", "draft2020-12"]
Predicate = Callable[[Any], bool]


class Unsupported(Exception):
    """The schema uses something the predicate does not model: leave it to jsonschema."""


def validating_keywords(draft: Draft) -> frozenset[str]:
    if draft == "draft4":
        return _DRAFT4_KEYWORDS
    return _DRAFT2020_KEYWORDS


_DRAFT4_KEYWORDS = frozenset(
    {
        "$ref", "additionalItems", "additionalProperties", "allOf", "anyOf", "dependencies",
        "enum", "format", "items", "maxItems", "maxLength", "maxProperties", "maximum",
        "minItems", "minLength", "minProperties", "minimum", "multipleOf", "not", "oneOf",
        "pattern", "patternProperties", "properties", "required", "type", "uniqueItems",
    }
)  # fmt: skip
_DRAFT2020_KEYWORDS = _DRAFT4_KEYWORDS - {"additionalItems", "dependencies"} | {
    "$dynamicRef", "$recursiveRef", "const", "contains", "dependentRequired",
    "dependentSchemas", "exclusiveMaximum", "exclusiveMinimum", "if", "then", "else",
    "maxContains", "minContains", "prefixItems", "propertyNames", "unevaluatedItems",
    "unevaluatedProperties",
}  # fmt: skip


def always(value: Any) -> bool:
    return True


def never(value: Any) -> bool:
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def type_check(declared: Any, draft: Draft) -> Predicate:
    names = [declared] if isinstance(declared, str) else list(declared)
    tests = [_TYPE_TESTS[draft].get(name) for name in names]
    if any(test is None for test in tests):
        raise Unsupported(f"type {declared!r}")
    known = [test for test in tests if test is not None]
    # Decoded JSON holds exactly these types: one set lookup answers for them; the isinstance
    # tests (jsonschema's own notion) answer for anything else, and for an integral float.
    exact = frozenset(t for name in names for t in _EXACT_TYPES[name])
    integral_float = draft != "draft4" and "integer" in names

    def check(value: Any) -> bool:
        kind = type(value)
        if kind in exact:
            return True
        if kind in _JSON_DECODED and not (integral_float and kind is float):
            return False
        for test in known:  # noqa: SIM110 - a loop: any() over a generator is ~3x slower here
            if test(value):
                return True
        return False

    return check


_EXACT_TYPES: dict[str, tuple[type, ...]] = {
    "null": (type(None),),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "array": (list,),
    "object": (dict,),
}
_JSON_DECODED = frozenset({type(None), bool, int, float, str, list, dict})


def _is_integer_2020(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_integer_4(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_COMMON_TYPES: dict[str, Predicate] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "number": _is_number,
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}
_TYPE_TESTS: dict[Draft, dict[str, Predicate]] = {
    "draft4": {**_COMMON_TYPES, "integer": _is_integer_4},
    "draft2020-12": {**_COMMON_TYPES, "integer": _is_integer_2020},
}


def all_of(subs: list[Predicate]) -> Predicate:
    def check(value: Any) -> bool:
        for sub in subs:  # noqa: SIM110 - a loop: all() over a generator is ~3x slower here
            if not sub(value):
                return False
        return True

    return check


def combine(key: str, subs: list[Predicate]) -> Predicate:
    if key == "anyOf":

        def any_of(value: Any) -> bool:
            for sub in subs:  # noqa: SIM110 - as above
                if sub(value):
                    return True
            return False

        return any_of
    if key == "allOf":
        return all_of(subs)
    return lambda value: sum(1 for sub in subs if sub(value)) == 1


def enum_check(options: Any) -> Predicate:
    if not isinstance(options, list) or any(isinstance(o, (list, dict)) for o in options):
        raise Unsupported("an enum of arrays or objects")
    return lambda value: any(_scalar_equal(value, option) for option in options)


def _scalar_equal(value: Any, option: Any) -> bool:
    """jsonschema's equality for a scalar option: a boolean equals only a boolean."""
    if isinstance(value, bool) or isinstance(option, bool):
        return isinstance(value, bool) and isinstance(option, bool) and value == option
    if option is None or value is None:
        return value is None and option is None
    if isinstance(option, str) or isinstance(value, str):
        return isinstance(value, str) and isinstance(option, str) and value == option
    return _is_number(value) and _is_number(option) and bool(value == option)


def bound(key: str, limit: Any, schema: Mapping[str, Any], draft: Draft) -> Predicate | None:
    if key in ("minLength", "maxLength"):
        low = key == "minLength"
        return lambda v: not isinstance(v, str) or (len(v) >= limit if low else len(v) <= limit)
    if key in ("minItems", "maxItems"):
        low = key == "minItems"
        return lambda v: not isinstance(v, list) or (len(v) >= limit if low else len(v) <= limit)
    if draft == "draft4" and key in ("exclusiveMinimum", "exclusiveMaximum"):
        return None  # a modifier of minimum / maximum in draft 4
    if not _is_number(limit):
        raise Unsupported(f"{key} {limit!r}")
    if draft == "draft4":
        strict = schema.get("exclusiveMinimum" if key == "minimum" else "exclusiveMaximum")
        if not isinstance(strict, (bool, type(None))):
            raise Unsupported("a draft 4 exclusive bound that is not a boolean")
        return _compare(key == "minimum", limit, strict=bool(strict))
    if isinstance(limit, float) and math.isnan(limit):
        raise Unsupported("a NaN bound")
    return _compare(key in ("minimum", "exclusiveMinimum"), limit, strict=key.startswith("ex"))


def _compare(lower: bool, limit: Any, *, strict: bool) -> Predicate:
    # The failure tests are jsonschema's own (``instance < minimum`` fails, ...), so a NaN
    # instance passes here exactly as it does there.
    if lower and strict:
        return lambda v: not _is_number(v) or not v <= limit
    if lower:
        return lambda v: not _is_number(v) or not v < limit
    if strict:
        return lambda v: not _is_number(v) or not v >= limit
    return lambda v: not _is_number(v) or not v > limit
