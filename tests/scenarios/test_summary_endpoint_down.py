"""Scenario: the dashboard summary answers 500 after the recovery; every other check still runs."""

from __future__ import annotations

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID


def test_a_failing_summary_gets_a_capture_rollback_guide(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim(faults={"endpoints": {"summary": {"status": 500}}})

    apply = ["run", "--mode", "apply", "--config", str(sim.config_path)]
    result = run_bundle(*apply, "--matchup-id", DEFAULT_MATCHUP_ID)

    assert result.exit_code == 1
    outcomes = {check["endpoint"]: check["outcome"] for check in result.checks()}
    assert outcomes == {"health": "passed", "summary": "failed", "matchup": "passed"}
    (failure,) = result.checks("failed")
    assert "expected 200, got 500" in failure["message"]
    assert result.capture("summary")["status"] == 500
    (guide,) = result.guides
    assert guide.startswith("rollback-guide: capture failed for summary")
