"""A fast yes for the common case of a contract check: the body is valid.

``jsonschema`` walks a response schema at ~25 us a node, which made the OpenAPI contract
check most of ``verify``'s CPU (5 ms a body on the service's matchup schema). Most bodies are
valid, and a valid body needs no messages, so :func:`compile_validity` turns a schema into a
plain predicate once per schema, and ``jsonschema`` runs only when the predicate says no (to
say why). The predicate is exact for the keywords it knows and never says yes to a body that
``jsonschema`` would reject; a schema using any other validating keyword (or ``$id``, anchors,
a ``$ref`` out of the document) gets no predicate, and every body goes to ``jsonschema``.
Keywords that ``jsonschema`` ignores (``title``, ``format`` without a format checker,
OpenAPI's ``discriminator``, ...) are ignored here too.
"""

from __future__ import annotations

import math
import numbers
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal
from urllib.parse import unquote

__all__ = ["Draft", "FastPathValidator", "Predicate", "compile_validity", "draft_of"]

Draft = Literal["draft4", "draft2020-12"]
Predicate = Callable[[Any], bool]

_IGNORED = frozenset(
    {
        "$schema", "$comment", "title", "description", "default", "examples", "example",
        "format", "deprecated", "readOnly", "writeOnly", "discriminator", "xml",
        "externalDocs", "nullable", "contentMediaType", "contentEncoding", "contentSchema",
    }
)  # fmt: skip
_KNOWN = frozenset(
    {
        "$ref", "type", "properties", "required", "additionalProperties", "items", "anyOf",
        "allOf", "oneOf", "not", "enum", "const", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems", "pattern",
        "$defs", "definitions",
    }
)  # fmt: skip


class _Unsupported(Exception):
    """The schema uses something the predicate does not model: leave it to jsonschema."""


def compile_validity(root: Any, pointer: str, draft: Draft) -> Predicate | None:
    """A predicate for the schema at JSON ``pointer`` in ``root`` (``""``: the root itself),
    or None when the schema needs ``jsonschema`` for every body."""
    compiler = _Compiler(root, draft)
    try:
        return compiler.at(pointer)
    except Exception:  # _Unsupported, or a malformed schema jsonschema will describe
        return None


def draft_of(validator_class: type[Any]) -> Draft | None:
    """The draft the predicate models for this jsonschema validator class, if any."""
    name = validator_class.__name__
    return {"Draft4Validator": "draft4", "Draft202012Validator": "draft2020-12"}.get(name)  # type: ignore[return-value]


class FastPathValidator:
    """A jsonschema validator that asks the predicate first: a valid body costs no walk, and
    jsonschema is not even imported until a body needs its reasons."""

    def __init__(self, make_validator: Callable[[], Any], valid: Predicate | None) -> None:
        self._make_validator = make_validator
        self._validator: Any = None
        self._lock = threading.Lock()
        self.valid = valid

    @property
    def validator(self) -> Any:
        with self._lock:
            if self._validator is None:
                self._validator = self._make_validator()
            return self._validator

    def iter_errors(self, instance: Any) -> Iterator[Any]:
        if self.valid is not None:
            try:
                if self.valid(instance):
                    return iter(())
            except Exception:  # e.g. a bound that cannot be compared: jsonschema decides
                pass
        return iter(self.validator.iter_errors(instance))


class _Compiler:
    def __init__(self, root: Any, draft: Draft) -> None:
        self.root = root
        self.draft = draft
        self._by_pointer: dict[str, Predicate] = {}

    def at(self, pointer: str) -> Predicate:
        """The predicate of the subschema at ``pointer``; a cycle of ``$ref``s is tied lazily."""
        known = self._by_pointer.get(pointer)
        if known is not None:
            return known
        cell: list[Predicate] = []
        self._by_pointer[pointer] = lambda value: cell[0](value)
        compiled = self.schema(_resolve_pointer(self.root, pointer))
        cell.append(compiled)
        self._by_pointer[pointer] = compiled
        return compiled

    def schema(self, schema: Any) -> Predicate:
        if schema is True and self.draft != "draft4":
            return _always
        if schema is False and self.draft != "draft4":
            return _never
        if not isinstance(schema, Mapping):
            raise _Unsupported("not a schema object")
        if any(key in schema for key in ("$id", "$anchor", "$dynamicAnchor")) or (
            self.draft == "draft4" and isinstance(schema.get("id"), str)
        ):
            raise _Unsupported("a base URI or anchor")
        keys = {key for key in schema if key not in _IGNORED}
        if self.draft == "draft4" and "$ref" in schema:
            keys = {"$ref"}  # draft 4 ignores the siblings of a $ref
        unmodelled = (keys - _KNOWN) & _validating_keywords(self.draft)
        if unmodelled:
            raise _Unsupported(f"keyword {sorted(unmodelled)[0]}")
        found = [self._keyword(key, schema) for key in sorted(keys & _KNOWN)]
        checks = [check for check in found if check is not None]
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        return lambda value: all(check(value) for check in checks)

    def _keyword(self, key: str, schema: Mapping[str, Any]) -> Predicate | None:
        value = schema[key]
        if key == "$ref":
            if not isinstance(value, str) or not value.startswith("#"):
                raise _Unsupported("a $ref out of the document")
            return self.at(unquote(value[1:]))
        if key in ("$defs", "definitions"):
            return None
        if key == "type":
            return _type_check(value, self.draft)
        if key == "properties":
            return self._properties(value)
        if key == "required":
            names = tuple(value)
            return lambda v: not isinstance(v, dict) or all(name in v for name in names)
        if key == "additionalProperties":
            return self._additional(value, schema)
        if key == "items":
            if isinstance(value, list) or "prefixItems" in schema or "additionalItems" in schema:
                raise _Unsupported("tuple items")
            each = self.schema(value)
            return lambda v: not isinstance(v, list) or all(each(item) for item in v)
        if key in ("anyOf", "allOf", "oneOf"):
            return _combine(key, [self.schema(sub) for sub in value])
        if key == "not":
            inner = self.schema(value)
            return lambda v: not inner(v)
        if key == "enum":
            return _enum_check(value)
        if key == "const":
            if self.draft == "draft4":
                return None
            return _enum_check([value])
        if key == "pattern":
            compiled = re.compile(value)
            return lambda v: not isinstance(v, str) or compiled.search(v) is not None
        return _bound(key, value, schema, self.draft)

    def _properties(self, properties: Mapping[str, Any]) -> Predicate:
        compiled = [(name, self.schema(sub)) for name, sub in properties.items()]

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            return all(name not in value or sub(value[name]) for name, sub in compiled)

        return check

    def _additional(self, extra: Any, schema: Mapping[str, Any]) -> Predicate | None:
        if "patternProperties" in schema:
            raise _Unsupported("patternProperties")
        declared = frozenset(schema.get("properties", {}))
        if isinstance(extra, Mapping):
            each = self.schema(extra)
            return lambda v: (
                not isinstance(v, dict)
                or all(each(item) for key, item in v.items() if key not in declared)
            )
        if extra:
            return None
        return lambda v: not isinstance(v, dict) or all(key in declared for key in v)


def _validating_keywords(draft: Draft) -> frozenset[str]:
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


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _type_check(declared: Any, draft: Draft) -> Predicate:
    names = [declared] if isinstance(declared, str) else list(declared)
    tests = [_TYPE_TESTS[draft].get(name) for name in names]
    if any(test is None for test in tests):
        raise _Unsupported(f"type {declared!r}")
    known = [test for test in tests if test is not None]
    if len(known) == 1:
        return known[0]
    return lambda value: any(test(value) for test in known)


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


def _combine(key: str, subs: list[Predicate]) -> Predicate:
    if key == "anyOf":
        return lambda value: any(sub(value) for sub in subs)
    if key == "allOf":
        return lambda value: all(sub(value) for sub in subs)
    return lambda value: sum(1 for sub in subs if sub(value)) == 1


def _enum_check(options: Any) -> Predicate:
    if not isinstance(options, list) or any(isinstance(o, (list, dict)) for o in options):
        raise _Unsupported("an enum of arrays or objects")
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


def _bound(key: str, limit: Any, schema: Mapping[str, Any], draft: Draft) -> Predicate | None:
    if key in ("minLength", "maxLength"):
        low = key == "minLength"
        return lambda v: not isinstance(v, str) or (len(v) >= limit if low else len(v) <= limit)
    if key in ("minItems", "maxItems"):
        low = key == "minItems"
        return lambda v: not isinstance(v, list) or (len(v) >= limit if low else len(v) <= limit)
    if draft == "draft4" and key in ("exclusiveMinimum", "exclusiveMaximum"):
        return None  # a modifier of minimum / maximum in draft 4
    if not _is_number(limit):
        raise _Unsupported(f"{key} {limit!r}")
    if draft == "draft4":
        strict = schema.get("exclusiveMinimum" if key == "minimum" else "exclusiveMaximum")
        if not isinstance(strict, (bool, type(None))):
            raise _Unsupported("a draft 4 exclusive bound that is not a boolean")
        return _compare(key == "minimum", limit, strict=bool(strict))
    if isinstance(limit, float) and math.isnan(limit):
        raise _Unsupported("a NaN bound")
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


def _resolve_pointer(root: Any, pointer: str) -> Any:
    node = root
    if not pointer:
        return node
    if not pointer.startswith("/"):
        raise _Unsupported("an anchor reference")
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _Unsupported(f"an unresolvable $ref #{pointer}")
    return node
