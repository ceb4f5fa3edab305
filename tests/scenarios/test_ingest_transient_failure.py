"""Scenario: the ingest fails once, then succeeds on its retry."""

from __future__ import annotations

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID


def test_a_transient_ingest_failure_recovers_after_a_retry(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim(
        faults={"ingest": {"fail_times": 1}},
        steps={"ingest": {"retries": 2, "backoff": 0.01}},
    )

    apply = ["run", "--mode", "apply", "--config", str(sim.config_path)]
    result = run_bundle(*apply, "--matchup-id", DEFAULT_MATCHUP_ID)

    assert result.exit_code == 0, result.output
    ingest = result.step("ingest")
    assert ingest["status"] == "success"
    assert [attempt["status"] for attempt in ingest["attempts"]] == ["failed", "success"]
    assert result.step("reprocess")["status"] == "success"
    assert result.guides == []
