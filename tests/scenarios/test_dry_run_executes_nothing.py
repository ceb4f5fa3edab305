"""Scenario: a dry-run plans every step and touches nothing."""

from __future__ import annotations

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID


def test_a_dry_run_plans_every_step_and_executes_nothing(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim()

    dry_run = ["run", "--mode", "dry-run", "--config", str(sim.config_path)]
    result = run_bundle(*dry_run, "--matchup-id", DEFAULT_MATCHUP_ID)

    assert result.exit_code == 0, result.output
    assert result.report["status"] == "dry-run"
    steps = result.report["steps"]
    assert [step["name"] for step in steps] == ["ingest", "reprocess", "capture"]
    assert all(step["status"] == "planned" and step["attempts"] == [] for step in steps)
    assert DEFAULT_MATCHUP_ID in result.step("reprocess")["command"]
    assert result.captures() == []
    assert sim.access_log_path.read_text(encoding="utf-8") == ""  # not one request was sent
