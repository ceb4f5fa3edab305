"""Response bodies of the read API, shaped like the real service's (41-key matchup, summary)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from recovery_plugin.sim.clock import utc_now
from recovery_plugin.sim.store import MatchupRow

__all__ = ["matchup_body", "summary_body"]

SELECTION_POLICY_VERSION = "summary_single_set_v1"
DATA_SOURCE = "article"


def summary_body(scope_breakdown: Mapping[str, int], as_of: str | None) -> dict[str, Any]:
    return {
        "as_of": as_of,
        "selection_policy_version": SELECTION_POLICY_VERSION,
        "data_source": DATA_SOURCE,
        "party_support": [],
        "president_job_approval": [],
        "election_frame": [],
        "presidential_approval": [],
        "presidential_approval_deprecated": True,
        "scope_breakdown": dict(scope_breakdown),
    }


def _freshness_hours(published_at: str | None) -> float | None:
    if not published_at:
        return None
    try:
        moment = datetime.fromisoformat(published_at)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return round((utc_now() - moment).total_seconds() / 3600, 2)


def _option(option: Mapping[str, Any], scenario: Mapping[str, Any]) -> dict[str, Any]:
    candidate_id = option.get("candidate_id")
    verified = candidate_id is not None
    return {
        "option_name": option.get("option_name"),
        "candidate_id": candidate_id,
        "party_name": option.get("party_name"),
        "name_validity": "valid",
        "scenario_key": scenario.get("scenario_key"),
        "scenario_type": scenario.get("scenario_type"),
        "scenario_title": scenario.get("scenario_title"),
        "value_mid": option.get("value_mid"),
        "value_raw": option.get("value_raw"),
        "party_inferred": False,
        "party_inference_source": None,
        "party_inference_confidence": None,
        "party_inference_evidence": None,
        "candidate_verified": verified,
        "candidate_verify_source": "article_context" if verified else None,
        "candidate_verify_confidence": 0.68 if verified else None,
        "candidate_verify_matched_key": f"article_context:{candidate_id}" if verified else None,
        "needs_manual_review": not verified,
    }


def _scenarios(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for scenario in payload.get("scenarios", []):
        result.append(
            {
                "scenario_key": scenario.get("scenario_key"),
                "scenario_type": scenario.get("scenario_type"),
                "scenario_title": scenario.get("scenario_title"),
                "options": [_option(o, scenario) for o in scenario.get("options", [])],
            }
        )
    return result


def matchup_body(row: MatchupRow) -> dict[str, Any]:
    """The 41-key matchup document; ``matchup_id`` echoes the stored (decoded) id exactly."""
    payload = row.payload
    obs: Mapping[str, Any] = payload.get("observation", {})
    article: Mapping[str, Any] = payload.get("article", {})
    scenarios = _scenarios(payload)
    options = scenarios[0]["options"] if scenarios else []
    published_at = article.get("published_at")
    freshness = _freshness_hours(published_at)
    unverified = sum(1 for s in scenarios for o in s["options"] if not o["candidate_verified"])
    channels = ["article"]
    return {
        "matchup_id": row.matchup_id,
        "region_code": obs.get("region_code"),
        "office_type": obs.get("office_type"),
        "title": obs.get("title"),
        "canonical_title": obs.get("title"),
        "article_title": article.get("title"),
        "has_data": row.observation is not None,
        "fallback_mode": "none",
        "incumbent_candidates": [],
        "pollster": obs.get("pollster"),
        "survey_start_date": obs.get("survey_start_date"),
        "survey_end_date": obs.get("survey_end_date"),
        "confidence_level": 95.0 if obs.get("margin_of_error") is not None else None,
        "sample_size": obs.get("sample_size"),
        "response_rate": obs.get("response_rate"),
        "margin_of_error": obs.get("margin_of_error"),
        "source_grade": obs.get("source_grade"),
        "audience_scope": obs.get("audience_scope"),
        "audience_region_code": obs.get("region_code") if obs.get("audience_scope") else None,
        "sampling_population_text": None,
        "legal_completeness_score": None,
        "legal_filled_count": None,
        "legal_required_count": None,
        "date_resolution": None,
        "date_inference_mode": None,
        "date_inference_confidence": None,
        "nesdc_enriched": False,
        "needs_manual_review": unverified > 0 or obs.get("source_grade") not in ("A", "B"),
        "candidate_noise_block_count": unverified,
        "source_priority": "article",
        "official_release_at": None,
        "article_published_at": published_at,
        "freshness_hours": freshness,
        "is_official_confirmed": False,
        "poll_fingerprint": None if row.observation is None else row.observation.poll_fingerprint,
        "source_channel": "article",
        "source_channels": channels,
        "source_trace": {
            "source_priority": "article",
            "source_channel": "article",
            "source_channels": list(channels),
            "selected_source_tier": None,
            "selected_source_channel": None,
            "official_release_at": None,
            "article_published_at": published_at,
            "freshness_hours": freshness,
            "is_official_confirmed": False,
        },
        "verified": True,
        "scenarios": scenarios,
        "options": options,
    }
