"""Contract checks: a response validated against a JSON Schema file or the service's OpenAPI document.

``expect_schema = "schemas/matchup.json"`` on an endpoint names a JSON Schema file (its
``$schema`` picks the draft, 2020-12 by default; relative ``$ref``s to sibling files resolve).
``openapi = "{api_base}/openapi.json"`` (or a file path) at top level names the service's OpenAPI
document: each response is validated against the schema declared for its path (templated paths
such as ``/api/v1/matchups/{matchup_id}`` match one segment), method and status (exact, then
``2XX``, then ``default``). OpenAPI 3.1 schemas are JSON Schema 2020-12; 3.0 schemas are read as
draft 4 with ``nullable: true`` turned into a ``null`` alternative. ``$ref``s resolve within the
document. jsonschema and httpx are imported on first use.

A document that is not served (404) makes every contract check *skipped with a note*; one that
cannot be fetched or read makes them fail with the reason. Load it once per run with
:class:`OpenAPILoader`; its sha256 goes into the report.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from recovery_plugin.errors import ConfigError
from recovery_plugin.http.openapi_doc import OpenAPIDocument, OpenAPILoad, load_openapi
from recovery_plugin.records import dataclass

__all__ = [
    "ContractResult",
    "OpenAPIDocument",
    "OpenAPILoad",
    "OpenAPILoader",
    "SchemaContract",
    "check_openapi",
    "check_schema",
    "load_openapi",
    "load_schema_file",
]

MAX_ERRORS = 10


@dataclass(frozen=True)
class ContractResult:
    outcome: Literal["passed", "failed", "skipped"]
    reasons: tuple[str, ...] = ()
    note: str | None = None
    source: str = ""
    sha256: str | None = None


# --- validation -------------------------------------------------------------------------------


def _violations(validator: Any, body: Any) -> list[str]:
    errors = sorted(validator.iter_errors(body), key=lambda e: (list(e.absolute_path), e.message))
    reasons = [_describe(e) for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        reasons.append(f"{len(errors) - MAX_ERRORS} more violations")
    return reasons


def _describe(error: Any) -> str:
    """``$.options[0].value_mid: 'abc' is not of type 'number'``; alternatives are merged."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        types = [e.validator_value for e in error.context if e.validator == "type" and not e.path]
        if len(types) == len(error.context):
            names = " or ".join(repr(t) for t in types)
            return _cut(f"{error.json_path}: {_short(error.instance)} is not of type {names}")
        from jsonschema.exceptions import best_match

        # "is not of type 'null'" says nothing about a present value: explain the real branch.
        informative = [e for e in error.context if e.validator_value != "null" or e.path]
        error = best_match(informative or error.context)
    return _cut(f"{error.json_path}: {error.message}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- JSON Schema files ------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaContract:
    path: Path
    sha256: str
    validator: Any


def load_schema_file(path: Path, where: str) -> SchemaContract:
    """Read and check the schema at ``path``; :class:`ConfigError` naming ``where`` otherwise."""
    raw, schema = _read_json(path, where, f"JSON Schema {path}")
    import jsonschema
    import referencing
    import referencing.jsonschema

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ConfigError(f"{where}: {path} is not a valid JSON Schema: {exc.message}") from None

    def retrieve(uri: str) -> referencing.Resource[Any]:
        target = Path(unquote(urlsplit(uri).path))
        contents = json.loads(target.read_text(encoding="utf-8"))
        return referencing.Resource.from_contents(
            contents, default_specification=referencing.jsonschema.DRAFT202012
        )

    _check_file_refs(schema, path, where)
    base = path.resolve().as_uri()
    resource = referencing.Resource.from_contents(
        schema, default_specification=referencing.jsonschema.DRAFT202012
    )
    empty: referencing.Registry[Any] = referencing.Registry(retrieve=retrieve)  # type: ignore[call-arg]
    registry = empty.with_resource(base, resource)
    from recovery_plugin.http.fast_schema import FastPathValidator, compile_validity, draft_of

    draft = draft_of(cls)
    validator = FastPathValidator(
        lambda: cls({"$ref": base}, registry=registry),
        compile_validity(schema, "", draft) if draft is not None else None,
    )
    return SchemaContract(path, hashlib.sha256(raw).hexdigest(), validator)


def _check_file_refs(schema: Any, path: Path, where: str, seen: set[Path] | None = None) -> None:
    """Every ``$ref`` to another file (relative to ``path``) names a readable JSON file."""
    seen = seen if seen is not None else {path.resolve()}
    for ref in _refs(schema):
        target_part = urlsplit(ref)
        if target_part.scheme not in ("", "file") or not target_part.path:
            continue  # a fragment within the document, or a URL the validator resolves itself
        target = (path.parent / unquote(target_part.path)).resolve()
        if target in seen:
            continue
        seen.add(target)
        _, contents = _read_json(target, where, f"{ref!r} (a $ref of {path})")
        _check_file_refs(contents, target, where, seen)


def _read_json(path: Path, where: str, what: str) -> tuple[bytes, Any]:
    """The bytes and the JSON value of ``path``; ``what`` names it in the error."""
    try:
        raw = path.read_bytes()
        return raw, json.loads(raw)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {what}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{where}: {what} is not valid JSON: {exc}") from None


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def check_schema(contract: SchemaContract, body: Any) -> ContractResult:
    try:
        reasons = _violations(contract.validator, body)
    except Exception as exc:  # an unresolvable $ref surfaces only while validating
        reasons = [f"schema {contract.path} cannot be applied: {type(exc).__name__}: {exc}"]
    outcome: Literal["passed", "failed"] = "failed" if reasons else "passed"
    return ContractResult(
        outcome, tuple(reasons), source=str(contract.path), sha256=contract.sha256
    )


# --- OpenAPI ----------------------------------------------------------------------------------


class OpenAPILoader:
    """Loads each source once per run, whichever check asks first (thread-safe)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._loads: dict[str, OpenAPILoad] = {}
        self._lock = threading.Lock()

    def get(self, source: str) -> OpenAPILoad:
        with self._lock:
            if source not in self._loads:
                self._loads[source] = load_openapi(source, **self._options)
            return self._loads[source]


def check_openapi(
    load: OpenAPILoad, path: str, status: int, body: Any, method: str = "GET"
) -> ContractResult:
    """Validate one response (its request ``path`` as sent, its status, its decoded body)."""
    if load.missing:
        return ContractResult(
            "skipped",
            note=f"the service does not serve {load.source} (404): contract not checked",
            source=load.source,
            sha256=load.sha256,
        )
    if load.document is None:
        problem = load.problem or "OpenAPI document unavailable"
        return ContractResult("failed", (problem,), source=load.source, sha256=load.sha256)
    document = load.document
    try:
        pointer, looked_up = document.response_pointer(path, status, method)
        if pointer is None:
            return ContractResult("skipped", note=looked_up, source=load.source, sha256=load.sha256)
        reasons = _violations(document.validator(pointer), body)
    except Exception as exc:  # a broken $ref in the service's document is its finding, not ours
        return ContractResult(
            "failed",
            (f"OpenAPI schema for {path} cannot be applied: {type(exc).__name__}: {exc}",),
            source=load.source,
            sha256=load.sha256,
        )
    prefixed = tuple(f"{looked_up}: {r}" for r in reasons)
    return ContractResult(
        "failed" if reasons else "passed", prefixed, source=load.source, sha256=load.sha256
    )
