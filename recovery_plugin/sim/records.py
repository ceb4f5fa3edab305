"""Validate the ingest job input and turn each record into what the store keeps.

Input shape (see ``data.build_ingest_payload``)::

    {"records": [{"observation_key": str,
                  "article": {"title": str, "publisher": str?, "published_at": str?},
                  "observation": {"matchup_id": str, "region_code": str, "office_type": str,
                                  "title": str, "pollster": str, ...},
                  "scenarios": [{"scenario_key": str, "scenario_type": str, "scenario_title": str,
                                 "options": [{"option_name": str, "candidate_id": str|null,
                                              "party_name": str|null, "value_raw": str,
                                              "value_mid": number|null}]}]}]}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from recovery_plugin.records import dataclass

__all__ = ["IngestPayloadError", "IngestRecord", "parse_ingest_payload", "poll_fingerprint"]


class IngestPayloadError(ValueError):
    """The ingest input is not in the expected shape; the message names the offending field."""


@dataclass(frozen=True)
class IngestRecord:
    observation_key: str
    matchup_id: str
    poll_fingerprint: str
    option_count: int
    payload: dict[str, Any]
    """Everything the read API needs: ``observation`` fields, ``article``, ``scenarios``."""


_OBSERVATION_STR = ("matchup_id", "region_code", "office_type", "title", "pollster")
_OBSERVATION_OPTIONAL = (
    "survey_start_date",
    "survey_end_date",
    "sample_size",
    "response_rate",
    "margin_of_error",
    "source_grade",
    "audience_scope",
)


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise IngestPayloadError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise IngestPayloadError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _str(value: object, where: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise IngestPayloadError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _req_str(value: object, where: str) -> str:
    text = _str(value, where)
    assert text is not None
    return text


def _number(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IngestPayloadError(f"{where}: expected a number or null, got {value!r}")
    return float(value)


def _option(raw: object, where: str) -> dict[str, Any]:
    option = _obj(raw, where)
    return {
        "option_name": _req_str(option.get("option_name"), f"{where}.option_name"),
        "candidate_id": _str(option.get("candidate_id"), f"{where}.candidate_id", optional=True),
        "party_name": _str(option.get("party_name"), f"{where}.party_name", optional=True),
        "value_raw": _str(option.get("value_raw"), f"{where}.value_raw", optional=True),
        "value_mid": _number(option.get("value_mid"), f"{where}.value_mid"),
    }


def _scenario(raw: object, where: str) -> dict[str, Any]:
    scenario = _obj(raw, where)
    options = _list(scenario.get("options"), f"{where}.options")
    return {
        "scenario_key": _req_str(scenario.get("scenario_key", "default"), f"{where}.scenario_key"),
        "scenario_type": _req_str(
            scenario.get("scenario_type", "head_to_head"), f"{where}.scenario_type"
        ),
        "scenario_title": _str(
            scenario.get("scenario_title"), f"{where}.scenario_title", optional=True
        ),
        "options": [_option(o, f"{where}.options[{i}]") for i, o in enumerate(options)],
    }


def _observation(raw: object, where: str) -> dict[str, Any]:
    observation = _obj(raw, where)
    result: dict[str, Any] = {
        key: _req_str(observation.get(key), f"{where}.{key}") for key in _OBSERVATION_STR
    }
    for key in _OBSERVATION_OPTIONAL:
        result[key] = observation.get(key)
    size = result["sample_size"]
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise IngestPayloadError(f"{where}.sample_size: expected an integer or null, got {size!r}")
    for key in ("response_rate", "margin_of_error"):
        result[key] = _number(result[key], f"{where}.{key}")
    return result


def poll_fingerprint(observation: Mapping[str, Any], scenarios: list[dict[str, Any]]) -> str:
    """SHA-256 hex of the poll identity: matchup, pollster, survey window, sample, values."""
    identity = {
        "matchup_id": observation["matchup_id"],
        "pollster": observation["pollster"],
        "survey_start_date": observation.get("survey_start_date"),
        "survey_end_date": observation.get("survey_end_date"),
        "sample_size": observation.get("sample_size"),
        "options": [
            [s["scenario_key"], o["option_name"], o["value_raw"]]
            for s in scenarios
            for o in s["options"]
        ],
    }
    canonical = json.dumps(identity, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _record(raw: object, where: str) -> IngestRecord:
    record = _obj(raw, where)
    observation = _observation(record.get("observation"), f"{where}.observation")
    scenarios_raw = _list(record.get("scenarios"), f"{where}.scenarios")
    scenarios = [_scenario(s, f"{where}.scenarios[{i}]") for i, s in enumerate(scenarios_raw)]
    article = _obj(record.get("article", {}), f"{where}.article")
    payload = {
        "observation": observation,
        "article": {
            "title": _str(article.get("title"), f"{where}.article.title", optional=True),
            "publisher": _str(
                article.get("publisher"), f"{where}.article.publisher", optional=True
            ),
            "published_at": _str(
                article.get("published_at"), f"{where}.article.published_at", optional=True
            ),
        },
        "scenarios": scenarios,
    }
    return IngestRecord(
        observation_key=_req_str(record.get("observation_key"), f"{where}.observation_key"),
        matchup_id=observation["matchup_id"],
        poll_fingerprint=poll_fingerprint(observation, scenarios),
        option_count=sum(len(s["options"]) for s in scenarios),
        payload=payload,
    )


def parse_ingest_payload(raw: object) -> list[IngestRecord]:
    """Validate an ingest input document; raise ``IngestPayloadError`` naming the bad field."""
    document = _obj(raw, "body")
    records = _list(document.get("records"), "body.records")
    return [_record(r, f"records[{i}]") for i, r in enumerate(records)]
