"""Scenario: a deploy changes the matchup response; the service's own OpenAPI document says it
is wrong, and the check names the field and the rule it broke."""

from __future__ import annotations

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID


def test_a_response_that_breaks_the_openapi_contract_fails_its_check(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim(faults={"endpoints": {"matchup": {"break_contract": True}}})
    sim.seed((DEFAULT_MATCHUP_ID,))

    verify = ["verify", "--config", str(sim.config_path)]
    result = run_bundle(*verify, "--matchup-id", DEFAULT_MATCHUP_ID)

    assert result.exit_code == 1
    outcomes = {check["endpoint"]: check["outcome"] for check in result.checks()}
    assert outcomes == {"health": "passed", "summary": "passed", "matchup": "failed"}
    (failure,) = result.checks("failed")
    assert "contract:" in failure["message"]
    assert "value_mid" in failure["message"] and "is not of type 'number'" in failure["message"]
    assert "'has_data' is a required property" in failure["message"]
    contract = result.report["verification"]["contract"]
    assert contract["outcome"] == "loaded" and len(contract["sha256"]) == 64
