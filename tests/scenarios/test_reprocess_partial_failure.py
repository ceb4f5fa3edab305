"""Scenario: one matchup of three fails to reprocess; the other two still get done."""

from __future__ import annotations

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.sim.data import MATCHUP_IDS


def test_one_failed_reprocess_does_not_stop_the_others_with_continue_on_error(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    good_1, good_2, bad = MATCHUP_IDS[:3]
    sim = recovery_sim(faults={"reprocess": {"fail_ids": [bad]}})

    apply = ["run", "--mode", "apply", "--config", str(sim.config_path), "--continue-on-error"]
    ids = ["--matchup-id", good_1, "--matchup-id", good_2, "--matchup-id", bad]
    result = run_bundle(*apply, *ids)

    assert result.exit_code == 1
    assert result.step("reprocess", bad)["status"] == "failed"
    for good in (good_1, good_2):
        assert result.step("reprocess", good)["status"] == "success"
        assert result.capture("matchup", good)["body"]["matchup_id"] == good
    passed = {check["matchup_id"] for check in result.checks("passed") if check["matchup_id"]}
    assert {good_1, good_2} <= passed
    (guide,) = [g for g in result.guides if g.startswith("rollback-guide: reprocess")]
    assert bad in guide
    assert good_1 not in guide and good_2 not in guide
