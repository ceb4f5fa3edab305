"""Scenario: the gate after a deploy names the one matchup the service does not have."""

from __future__ import annotations

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.sim.data import MATCHUP_IDS


def test_verify_names_the_matchup_that_is_missing(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    present, missing = MATCHUP_IDS[:2]
    sim = recovery_sim()
    sim.seed((present,))  # only one of the two was ingested

    verify = ["verify", "--config", str(sim.config_path)]
    result = run_bundle(*verify, "--matchup-id", present, "--matchup-id", missing)

    assert result.exit_code == 1
    assert [step["name"] for step in result.report["steps"]] == ["capture"]  # read-only
    (failure,) = result.checks("failed")
    assert failure["matchup_id"] == missing
    assert "expected 200, got 404" in failure["message"]
    (guide,) = result.guides
    assert guide.startswith(f"rollback-guide: capture failed for matchup[{missing}]")
    assert "recovery-bundle verify" in guide  # the command to re-check with
