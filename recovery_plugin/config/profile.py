"""The built-in default profile: the real election-poll service's steps and endpoints.

Ingest with retry, a single-matchup reprocess (with the poll fingerprint when one is known) and
the three read endpoints; a runbook file overrides any part of it.
"""

from __future__ import annotations

from collections.abc import Mapping

from recovery_plugin.config.schema import EndpointSpec, Runbook, StepSpec

__all__ = [
    "DEFAULT_ENDPOINTS",
    "DEFAULT_OPENAPI",
    "DEFAULT_STEPS",
    "SUMMARY_KEYS",
    "default_runbook",
]

SUMMARY_KEYS = (
    "as_of",
    "selection_policy_version",
    "data_source",
    "party_support",
    "president_job_approval",
    "election_frame",
    "presidential_approval",
    "presidential_approval_deprecated",
    "scope_breakdown",
)
"""The top-level keys of the service's ``/api/v1/dashboard/summary`` body."""

DEFAULT_STEPS: Mapping[str, StepSpec] = {
    "ingest": StepSpec(
        name="ingest",
        command=(
            "{python}",
            "scripts/qa/run_ingest_with_retry.py",
            "--api-base",
            "{api_base}",
            "--input",
            "{input}",
            "--report",
            "{step_report}",
        ),
    ),
    "reprocess": StepSpec(
        name="reprocess",
        command=(
            "{python}",
            "scripts/qa/reprocess_single_matchup.py",
            "--mode",
            "apply",
            "--matchup-id",
            "{matchup_id}",
            "--output-dir",
            "{step_dir}",
            "--report",
            "{step_report}",
        ),
        optional_args={"poll_fingerprint": ("--poll-fingerprint", "{poll_fingerprint}")},
    ),
}

DEFAULT_ENDPOINTS: tuple[EndpointSpec, ...] = (
    EndpointSpec(name="health", path="/health", expect_json={"status": "ok"}),
    EndpointSpec(name="summary", path="/api/v1/dashboard/summary", expect_keys=SUMMARY_KEYS),
    EndpointSpec(
        name="matchup",
        path="/api/v1/matchups/{matchup_id}",
        # ``$.matchup_id == {matchup_id}``, as a subset (its failure names the key).
        expect_json={"matchup_id": "{matchup_id}"},
        # The real service may answer has_data false with an incumbent fallback: after a
        # reprocess in this run that is a finding, not a pass (``reprocessed_assert = []``: off).
        reprocessed_assert=({"path": "$.has_data", "op": "==", "value": True},),
    ),
)

DEFAULT_OPENAPI = "{api_base}/openapi.json"
"""FastAPI serves its document here; a service that does not (404) gets the check skipped."""


def default_runbook() -> Runbook:
    return Runbook(steps=dict(DEFAULT_STEPS), endpoints=DEFAULT_ENDPOINTS, openapi=DEFAULT_OPENAPI)
