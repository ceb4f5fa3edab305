"""The contract check's fast path agrees with jsonschema on every body, and steps aside when unsure.

The predicate (``recovery_plugin.http.fast_schema``) answers "valid" without walking the
schema through jsonschema; a wrong "valid" would let a broken response pass the contract. So it
is compared with jsonschema itself: on the simulated service's own document with its real
answers and thousands of mutations of them, and on random schemas and values of every keyword
it models, in both drafts the contract uses (2020-12 for OpenAPI 3.1, 4 for 3.0).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import referencing
import referencing.jsonschema

from recovery_plugin.http.contract import check_openapi, check_schema, load_schema_file
from recovery_plugin.http.fast_schema import Draft, compile_validity
from recovery_plugin.http.openapi_doc import OpenAPIDocument, OpenAPILoad
from recovery_plugin.ids import path_segment
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID
from recovery_plugin.sim.harness import SimulatedService
from recovery_plugin.sim.openapi import build_document

SimFactory = Callable[..., SimulatedService]
URN = "urn:test"
MATCHUP_ID = path_segment(DEFAULT_MATCHUP_ID)
CLASSES: dict[Draft, Any] = {
    "draft4": jsonschema.Draft4Validator,
    "draft2020-12": jsonschema.Draft202012Validator,
}


def _jsonschema_valid(root: Any, pointer: str, draft: Draft, value: Any) -> bool:
    spec = (
        referencing.jsonschema.DRAFT4 if draft == "draft4" else referencing.jsonschema.DRAFT202012
    )
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        URN, spec.create_resource(root)
    )
    validator = CLASSES[draft]({"$ref": f"{URN}#{pointer}"}, registry=registry)
    return not any(True for _ in validator.iter_errors(value))


# --- the simulated service's document and answers ---------------------------------------------

REPLACEMENTS: list[Any] = [None, "x", "", 0, -1, 1.5, 2.0, True, False, [], [1], {}, {"k": 1}]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutations(body: Any, rng: random.Random, count: int) -> list[Any]:
    """Copies of ``body``, each with one to three changes: a value replaced, a key dropped or added."""
    mutated = []
    for _ in range(count):
        copy_ = copy.deepcopy(body)
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(_paths(copy_))
            if not path:
                continue
            parent = copy_
            for step in path[:-1]:
                parent = parent[step]
            action = rng.random()
            if action < 0.6:
                parent[path[-1]] = copy.deepcopy(rng.choice(REPLACEMENTS))
            elif action < 0.8 and isinstance(parent, dict):
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[f"extra_{rng.randint(0, 9)}"] = rng.choice(REPLACEMENTS)
        mutated.append(copy_)
    return mutated


def test_on_the_services_own_document_the_fast_path_agrees_with_jsonschema_on_every_body(
    recovery_sim: SimFactory,
) -> None:
    sim = recovery_sim()
    sim.seed()
    document = build_document()
    doc = OpenAPIDocument(document, "test", "0")
    rng = random.Random(20260603)
    checked = disagreements = invalid = 0
    with httpx.Client(base_url=sim.base_url) as client:
        for path in ("/health", "/api/v1/dashboard/summary", f"/api/v1/matchups/{MATCHUP_ID}"):
            body = client.get(path).json()
            pointer, _ = doc.response_pointer(path, 200)
            assert pointer is not None
            valid = compile_validity(doc.document, pointer, "draft2020-12")
            assert valid is not None, f"no fast path for {path}"
            for candidate in [body, *_mutations(body, rng, 400)]:
                expected = _jsonschema_valid(doc.document, pointer, "draft2020-12", candidate)
                checked += 1
                invalid += not expected
                disagreements += valid(candidate) != expected
    assert disagreements == 0
    assert checked == 1203
    assert 300 < invalid < 1100  # the mutations do break the contract, not always


def test_a_broken_answer_still_gets_jsonschemas_reasons() -> None:
    doc = OpenAPIDocument(build_document(), "test", "0")
    load = OpenAPILoad(source="/openapi.json", document=doc, sha256="0")
    result = check_openapi(load, "/health", 200, {"status": "down", "extra": 1})
    assert result.outcome == "failed"
    assert result.reasons == ("GET /health 200: $.status: 'ok' was expected",)
    assert check_openapi(load, "/health", 200, {"status": "ok"}).outcome == "passed"


# --- random schemas of every modelled keyword ---------------------------------------------------


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.randint(-3, 3)
    if kind == 3:
        return rng.choice([-1.5, 0.0, 1.0, 2.5, 3.0])
    if kind == 4:
        return rng.choice(["", "a", "ab", "abc", "1", "서울"])
    if kind in (5, 6):
        return rng.choice([0, 1, "a", None, True])
    if kind == 7:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["a", "b", "c", "d"]
    return {k: _random_value(rng, depth + 1) for k in rng.sample(keys, rng.randint(0, 3))}


TYPES = ["null", "boolean", "integer", "number", "string", "array", "object"]


def _random_schema(rng: random.Random, draft: Draft, depth: int = 0) -> Any:
    if draft != "draft4" and rng.random() < 0.05:
        return rng.choice([True, False])
    schema: dict[str, Any] = {}
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(
            ["type", "properties", "items", "combine", "enum", "bound", "length", "pattern", "ref"]
            if depth < 2
            else ["type", "enum", "bound", "length", "pattern"]
        )
        if key == "type":
            schema["type"] = rng.choice(TYPES) if rng.random() < 0.7 else rng.sample(TYPES, 2)
        elif key == "properties":
            names = rng.sample(["a", "b", "c"], rng.randint(1, 2))
            schema["properties"] = {n: _random_schema(rng, draft, depth + 1) for n in names}
            if rng.random() < 0.5:
                schema["required"] = rng.sample(["a", "b", "c"], rng.randint(1, 2))
            extra = rng.random()
            if extra < 0.3:
                schema["additionalProperties"] = False
            elif extra < 0.5:
                schema["additionalProperties"] = _random_schema(rng, draft, depth + 1)
        elif key == "items":
            schema["items"] = _random_schema(rng, draft, depth + 1)
        elif key == "combine":
            which = rng.choice(["anyOf", "allOf", "oneOf", "not"])
            if which == "not":
                schema["not"] = _random_schema(rng, draft, depth + 1)
            else:
                schema[which] = [_random_schema(rng, draft, depth + 1) for _ in range(2)]
        elif key == "enum":
            if draft != "draft4" and rng.random() < 0.3:
                schema["const"] = _random_value(rng, 3)
            else:
                schema["enum"] = [_random_value(rng, 3) for _ in range(rng.randint(1, 3))]
        elif key == "bound":
            name = rng.choice(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"])
            if draft == "draft4" and name.startswith("exclusive"):
                schema[rng.choice(["minimum", "maximum"])] = rng.choice([0, 1, 2.5])
                schema[name] = rng.choice([True, False])
            else:
                schema[name] = rng.choice([0, 1, 2.5])
        elif key == "length":
            schema[rng.choice(["minLength", "maxLength", "minItems", "maxItems"])] = rng.randint(
                0, 2
            )
        elif key == "pattern":
            schema["pattern"] = rng.choice(["^a", "b$", "[0-9]", "서"])
        elif key == "ref":
            schema["$ref"] = "#/$defs/shared" if draft != "draft4" else "#/definitions/shared"
    return schema


@pytest.mark.parametrize("draft", ["draft2020-12", "draft4"])
def test_on_random_schemas_and_values_the_fast_path_agrees_with_jsonschema(draft: Draft) -> None:
    rng = random.Random(f"fast-schema-{draft}")
    definitions = "$defs" if draft != "draft4" else "definitions"
    compared = 0
    for _ in range(400):
        shared = _random_schema(rng, draft, depth=2)
        root = {definitions: {"shared": shared}, "top": _random_schema(rng, draft)}
        valid = compile_validity(root, "/top", draft)
        assert valid is not None, json.dumps(root)
        for _ in range(15):
            value = _random_value(rng)
            expected = _jsonschema_valid(root, "/top", draft, value)
            assert valid(value) == expected, (json.dumps(root), value)
            compared += 1
    assert compared == 6000


def test_a_recursive_ref_is_followed_lazily() -> None:
    root = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                "required": ["children"],
            }
        }
    }
    valid = compile_validity(root, "/$defs/node", "draft2020-12")
    assert valid is not None
    assert valid({"children": [{"children": []}, {"children": [{"children": []}]}]})
    assert not valid({"children": [{"children": [{}]}]})


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
        {"$id": "urn:other", "type": "string"},
        {"$ref": "other.json#/x"},
        {"type": "array", "prefixItems": [{"type": "string"}]},
        {"type": "array", "uniqueItems": True},
        {"type": "number", "multipleOf": 0.1},
        {"type": "decimal"},
        {"enum": [[1, 2], {"a": 1}]},
        {"if": {"type": "string"}, "then": {"minLength": 2}},
        {"unevaluatedProperties": False},
        {"properties": ["not", "a", "mapping"]},
    ],
    ids=lambda schema: next(iter(schema)),
)
def test_a_schema_it_does_not_model_gets_no_fast_path(schema: dict[str, Any]) -> None:
    assert compile_validity(schema, "", "draft2020-12") is None


def test_without_a_fast_path_the_schema_file_check_still_gives_jsonschemas_reasons(
    tmp_path: Path,
) -> None:
    path = tmp_path / "schema.json"
    path.write_text(
        json.dumps({"type": "object", "patternProperties": {"^n_": {"type": "number"}}}),
        encoding="utf-8",
    )
    contract = load_schema_file(path, "expect_schema")
    assert contract.validator.valid is None
    result = check_schema(contract, {"n_1": "text", "other": 1})
    assert result.outcome == "failed"
    assert result.reasons == ("$.n_1: 'text' is not of type 'number'",)
    assert check_schema(contract, {"n_1": 2}).outcome == "passed"
