"""Scenario: the ingest keeps failing; nothing is reprocessed and the checklist says what to do."""

from __future__ import annotations

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID


def test_a_permanent_ingest_failure_fails_the_run_with_a_retry_guide(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim(
        faults={"ingest": {"always_fail": True}},
        steps={"ingest": {"retries": 1, "backoff": 0.01}},
    )

    apply = ["run", "--mode", "apply", "--config", str(sim.config_path)]
    result = run_bundle(*apply, "--matchup-id", DEFAULT_MATCHUP_ID)

    assert result.exit_code == 1
    assert result.report["status"] == "failed"
    assert result.step("ingest")["status"] == "failed"
    assert len(result.step("ingest")["attempts"]) == 2
    assert result.step("reprocess")["status"] == "skipped"
    assert any(line.startswith("retry-guide: ingest") for line in result.guides)
    assert "retry-guide: ingest" in result.output
