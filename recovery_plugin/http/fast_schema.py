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

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote

from recovery_plugin.http.schema_keywords import (
    Draft,
    Predicate,
    Unsupported,
    all_of,
    always,
    bound,
    combine,
    enum_check,
    never,
    type_check,
    validating_keywords,
)

__all__ = ["Draft", "FastPathValidator", "Predicate", "compile_validity", "draft_of"]


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


def compile_validity(root: Any, pointer: str, draft: Draft) -> Predicate | None:
    """A predicate for the schema at JSON ``pointer`` in ``root`` (``""``: the root itself),
    or None when the schema needs ``jsonschema`` for every body."""
    compiler = _Compiler(root, draft)
    try:
        return compiler.at(pointer)
    except Exception:  # Unsupported, or a malformed schema jsonschema will describe
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
            return always
        if schema is False and self.draft != "draft4":
            return never
        if not isinstance(schema, Mapping):
            raise Unsupported("not a schema object")
        if any(key in schema for key in ("$id", "$anchor", "$dynamicAnchor")) or (
            self.draft == "draft4" and isinstance(schema.get("id"), str)
        ):
            raise Unsupported("a base URI or anchor")
        keys = {key for key in schema if key not in _IGNORED}
        if self.draft == "draft4" and "$ref" in schema:
            keys = {"$ref"}  # draft 4 ignores the siblings of a $ref
        unmodelled = (keys - _KNOWN) & validating_keywords(self.draft)
        if unmodelled:
            raise Unsupported(f"keyword {sorted(unmodelled)[0]}")
        found = [self._keyword(key, schema) for key in sorted(keys & _KNOWN)]
        checks = [check for check in found if check is not None]
        if not checks:
            return always
        if len(checks) == 1:
            return checks[0]
        return all_of(checks)

    def _keyword(self, key: str, schema: Mapping[str, Any]) -> Predicate | None:
        value = schema[key]
        if key == "$ref":
            if not isinstance(value, str) or not value.startswith("#"):
                raise Unsupported("a $ref out of the document")
            return self.at(unquote(value[1:]))
        if key in ("$defs", "definitions"):
            return None
        if key == "type":
            return type_check(value, self.draft)
        if key == "properties":
            return self._properties(value)
        if key == "required":
            names = tuple(value)
            return lambda v: not isinstance(v, dict) or all(name in v for name in names)
        if key == "additionalProperties":
            return self._additional(value, schema)
        if key == "items":
            if isinstance(value, list) or "prefixItems" in schema or "additionalItems" in schema:
                raise Unsupported("tuple items")
            each = self.schema(value)

            def items(v: Any) -> bool:
                if isinstance(v, list):
                    for item in v:
                        if not each(item):
                            return False
                return True

            return items
        if key in ("anyOf", "allOf", "oneOf"):
            return combine(key, [self.schema(sub) for sub in value])
        if key == "not":
            inner = self.schema(value)
            return lambda v: not inner(v)
        if key == "enum":
            return enum_check(value)
        if key == "const":
            if self.draft == "draft4":
                return None
            return enum_check([value])
        if key == "pattern":
            compiled = re.compile(value)
            return lambda v: not isinstance(v, str) or compiled.search(v) is not None
        return bound(key, value, schema, self.draft)

    def _properties(self, properties: Mapping[str, Any]) -> Predicate:
        compiled = [(name, self.schema(sub)) for name, sub in properties.items()]

        def check(value: Any) -> bool:
            if isinstance(value, dict):
                for name, sub in compiled:
                    if name in value and not sub(value[name]):
                        return False
            return True

        return check

    def _additional(self, extra: Any, schema: Mapping[str, Any]) -> Predicate | None:
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
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


def _resolve_pointer(root: Any, pointer: str) -> Any:
    node = root
    if not pointer:
        return node
    if not pointer.startswith("/"):
        raise Unsupported("an anchor reference")
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise Unsupported(f"an unresolvable $ref #{pointer}")
    return node
