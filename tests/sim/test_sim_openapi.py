"""The simulated service's OpenAPI document matches what it really answers, and its contract
fault breaks it with reasons that name the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from recovery_plugin.http.contract import check_openapi
from recovery_plugin.http.openapi_doc import OpenAPILoad, load_openapi
from recovery_plugin.ids import path_segment
from recovery_plugin.pytest_plugin.fixtures import RecoverySim
from recovery_plugin.sim.data import MATCHUP_IDS
from recovery_plugin.sim.harness import SimulatedService
from recovery_plugin.sim.openapi import break_contract, build_document


@pytest.fixture
def contract(tmp_path: Path) -> OpenAPILoad:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(build_document()), encoding="utf-8")
    load = load_openapi(str(path))
    assert load.document is not None, load.problem
    return load


@pytest.fixture
def sim(recovery_sim: RecoverySim) -> Iterator[SimulatedService]:
    service = recovery_sim()
    service.seed()
    yield service


def get(sim: SimulatedService, path: str) -> tuple[int, Any]:
    response = httpx.get(sim.url(path), timeout=10)
    return response.status_code, response.json()


def test_the_document_is_openapi_31_with_valid_schemas() -> None:
    document = build_document()
    assert document["openapi"] == "3.1.0"
    for name, schema in document["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema), name  # type: ignore[func-returns-value]
    matchup = document["components"]["schemas"]["Matchup"]
    assert len(matchup["required"]) == 41


def test_every_real_response_validates(sim: SimulatedService, contract: OpenAPILoad) -> None:
    paths = ["/health", "/api/v1/dashboard/summary"]
    paths += [f"/api/v1/matchups/{path_segment(mid)}" for mid in MATCHUP_IDS]
    for path in paths:
        status, body = get(sim, path)
        assert status == 200, path
        result = check_openapi(contract, path, status, body)
        assert result.outcome == "passed", (path, result.reasons)
    missing = "/api/v1/matchups/" + path_segment("20990101|없음|00-000")
    status, body = get(sim, missing)
    assert status == 404
    assert check_openapi(contract, missing, status, body).outcome == "passed"


def test_the_contract_fault_breaks_the_matchup_response(
    sim: SimulatedService, contract: OpenAPILoad
) -> None:
    path = f"/api/v1/matchups/{path_segment(MATCHUP_IDS[0])}"
    _, body = get(sim, path)
    result = check_openapi(contract, path, 200, break_contract(body))
    assert result.outcome == "failed"
    assert (
        "GET /api/v1/matchups/{matchup_id} 200: $: 'has_data' is a required property"
        in result.reasons
    )
    assert (
        "GET /api/v1/matchups/{matchup_id} 200: $.options[0].value_mid: '41.2' is not of type 'number', 'null'"
        in result.reasons
    )


def test_an_injected_body_fault_violates_the_contract(
    sim: SimulatedService, contract: OpenAPILoad
) -> None:
    sim.set_faults({"endpoints": {"summary": {"body": {"as_of": 3}}}})
    status, body = get(sim, "/api/v1/dashboard/summary")
    result = check_openapi(contract, "/api/v1/dashboard/summary", status, body)
    assert result.outcome == "failed"
    assert any("$.as_of: 3 is not of type 'string', 'null'" in r for r in result.reasons)
    assert any("'scope_breakdown' is a required property" in r for r in result.reasons)
