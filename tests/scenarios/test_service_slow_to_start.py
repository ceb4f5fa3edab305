"""Scenario: the service takes a while to come back; verification waits for it instead of failing."""

from __future__ import annotations

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID


def test_the_readiness_wait_absorbs_a_slow_start(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim(
        faults={"service": {"start_delay": 3.0}},
        capture={"readiness_deadline": 15},
    )
    sim.seed()  # the data is there; only the HTTP server is late

    verify = ["verify", "--config", str(sim.config_path)]
    result = run_bundle(*verify, "--matchup-id", DEFAULT_MATCHUP_ID)

    assert result.exit_code == 0, result.output
    readiness = result.report["readiness"]
    assert readiness["ready"] is True
    assert len(readiness["attempts"]) > 1  # it was not up at first
    assert readiness["attempts"][0]["outcome"].startswith("connection_refused")
    assert [check["outcome"] for check in result.checks()] == ["passed"] * 3
