"""Scenario: the reprocess "succeeds", but the matchup still answers without data; polling waits
for it to land and the poll deadline turns it into a finding, with every attempt in the report."""

from __future__ import annotations

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID

STALE = {"matchup_id": DEFAULT_MATCHUP_ID, "has_data": False, "fallback_mode": "incumbent"}


def test_stale_data_after_a_successful_reprocess_fails_at_the_poll_deadline(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    matchup_check = {
        "name": "matchup",
        "path": "/api/v1/matchups/{matchup_id}",
        "assert": [{"path": "$.has_data", "op": "==", "value": True}],
        "poll": {"deadline": 1.5, "interval": 0.2, "max_interval": 0.5},
    }
    sim = recovery_sim(
        faults={"endpoints": {"matchup": {"body": STALE}}}, endpoints=[matchup_check]
    )

    apply = ["run", "--mode", "apply", "--config", str(sim.config_path)]
    result = run_bundle(*apply, "--matchup-id", DEFAULT_MATCHUP_ID)

    assert result.exit_code == 1
    assert result.step("reprocess", DEFAULT_MATCHUP_ID)["status"] == "success"
    (failure,) = result.checks("failed")
    assert "poll deadline 1.5 s" in failure["message"]
    assert "$.has_data == true: got false" in failure["message"]
    attempts = failure["poll"]["attempts"]
    assert len(attempts) >= 2  # re-captured, not judged once
    assert all(a["status"] == 200 and not a["passed"] for a in attempts)
    assert failure["poll"]["outcome"] == "failed"
