"""The simulated service's OpenAPI 3.1 document, matching its responses (see ``views``).

Served at ``/openapi.json`` like FastAPI's, so the harness's contract check has a document to
validate against. :func:`break_contract` turns a real matchup body into one that violates it
(for the fault that shows a contract failure).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["OPENAPI_PATH", "break_contract", "build_document"]

OPENAPI_PATH = "/openapi.json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)}


_STR, _NUM, _INT, _BOOL = (
    {"type": "string"},
    {"type": "number"},
    {"type": "integer"},
    {"type": "boolean"},
)
_STRINGS = {"type": "array", "items": _STR}

_OPTION = _object(
    {
        "option_name": _STR,
        "candidate_id": _nullable("string"),
        "party_name": _nullable("string"),
        "name_validity": _STR,
        "scenario_key": _STR,
        "scenario_type": _STR,
        "scenario_title": _nullable("string"),
        "value_mid": _nullable("number"),
        "value_raw": _nullable("string"),
        "party_inferred": _BOOL,
        "party_inference_source": _nullable("string"),
        "party_inference_confidence": _nullable("number"),
        "party_inference_evidence": _nullable("string"),
        "candidate_verified": _BOOL,
        "candidate_verify_source": _nullable("string"),
        "candidate_verify_confidence": _nullable("number"),
        "candidate_verify_matched_key": _nullable("string"),
        "needs_manual_review": _BOOL,
    }
)

_SOURCE_TRACE = _object(
    {
        "source_priority": _STR,
        "source_channel": _STR,
        "source_channels": _STRINGS,
        "selected_source_tier": _nullable("string"),
        "selected_source_channel": _nullable("string"),
        "official_release_at": _nullable("string"),
        "article_published_at": _nullable("string"),
        "freshness_hours": _nullable("number"),
        "is_official_confirmed": _BOOL,
    }
)

_MATCHUP = _object(
    {
        "matchup_id": _STR,
        "region_code": _STR,
        "office_type": _STR,
        "title": _STR,
        "canonical_title": _STR,
        "article_title": _nullable("string"),
        "has_data": _BOOL,
        "fallback_mode": {"type": "string", "enum": ["none", "incumbent"]},
        "incumbent_candidates": {"type": "array"},
        "pollster": _nullable("string"),
        "survey_start_date": _nullable("string"),
        "survey_end_date": _nullable("string"),
        "confidence_level": _nullable("number"),
        "sample_size": _nullable("integer"),
        "response_rate": _nullable("number"),
        "margin_of_error": _nullable("number"),
        "source_grade": _nullable("string"),
        "audience_scope": _nullable("string"),
        "audience_region_code": _nullable("string"),
        "sampling_population_text": _nullable("string"),
        "legal_completeness_score": _nullable("number"),
        "legal_filled_count": _nullable("integer"),
        "legal_required_count": _nullable("integer"),
        "date_resolution": _nullable("string"),
        "date_inference_mode": _nullable("string"),
        "date_inference_confidence": _nullable("number"),
        "nesdc_enriched": _BOOL,
        "needs_manual_review": _BOOL,
        "candidate_noise_block_count": _INT,
        "source_priority": _STR,
        "official_release_at": _nullable("string"),
        "article_published_at": _nullable("string"),
        "freshness_hours": _nullable("number"),
        "is_official_confirmed": _BOOL,
        "poll_fingerprint": _nullable("string"),
        "source_channel": _STR,
        "source_channels": _STRINGS,
        "source_trace": _ref("SourceTrace"),
        "verified": _BOOL,
        "scenarios": {"type": "array", "items": _ref("Scenario")},
        "options": {"type": "array", "items": _ref("Option")},
    }
)

_SCENARIO = _object(
    {
        "scenario_key": _STR,
        "scenario_type": _STR,
        "scenario_title": _nullable("string"),
        "options": {"type": "array", "items": _ref("Option")},
    }
)

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}

_SUMMARY = _object(
    {
        "as_of": _nullable("string"),
        "selection_policy_version": _STR,
        "data_source": _STR,
        "party_support": {"type": "array"},
        "president_job_approval": {"type": "array"},
        "election_frame": {"type": "array"},
        "presidential_approval": {"type": "array"},
        "presidential_approval_deprecated": _BOOL,
        "scope_breakdown": _COUNTS,
    }
)


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _get(
    operation_id: str, ok: str, *, not_found: bool = False, parameters: list[Any] | None = None
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _json("Successful Response", _ref(ok))}
    if not_found:
        responses["404"] = _json("Not Found", _ref("HTTPError"))
    responses["503"] = _json("Database unavailable", _ref("HTTPError"))
    operation: dict[str, Any] = {"operationId": operation_id, "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    return {"get": operation}


def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the simulated service's read API (a fresh copy each call)."""
    matchup_param = {"name": "matchup_id", "in": "path", "required": True, "schema": _STR}
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {"title": "recovery-sim", "version": "0.1.0"},
            "paths": {
                "/health": _get("health", "Health"),
                "/api/v1/dashboard/summary": _get("dashboard_summary", "DashboardSummary"),
                "/api/v1/matchups/{matchup_id}": _get(
                    "get_matchup", "Matchup", not_found=True, parameters=[matchup_param]
                ),
            },
            "components": {
                "schemas": {
                    "Health": _object({"status": {"type": "string", "const": "ok"}}),
                    "DashboardSummary": _SUMMARY,
                    "Matchup": _MATCHUP,
                    "Scenario": _SCENARIO,
                    "Option": _OPTION,
                    "SourceTrace": _SOURCE_TRACE,
                    "HTTPError": _object({"detail": _STR}),
                }
            },
        }
    )


def break_contract(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of a matchup body that violates the document: a number turned into text and a
    required key dropped (what a careless migration does)."""
    broken = copy.deepcopy(body)
    for option in broken.get("options", []):
        option["value_mid"] = str(option.get("value_mid"))
    broken.pop("has_data", None)
    return broken
