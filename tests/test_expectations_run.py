"""Effect checks through ``recovery-bundle run --mode apply``: compared with the before-capture."""

from __future__ import annotations

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID

SUMMARY = {"name": "summary", "path": "/api/v1/dashboard/summary"}


def test_apply_compares_with_the_capture_taken_before_the_steps(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim(
        endpoints=[
            {**SUMMARY, "expect_changed": ["$.as_of"]},
            {
                **SUMMARY,
                "name": "summary_shape",
                "expect_unchanged": ["$.selection_policy_version"],
            },
        ]
    )
    sim.seed()  # data present before, so the reprocess moves as_of forward

    apply = ["run", "--mode", "apply", "--config", str(sim.config_path)]
    result = run_bundle(*apply, "--matchup-id", DEFAULT_MATCHUP_ID)

    assert result.exit_code == 0, result.output
    assert {c["endpoint"]: c["outcome"] for c in result.checks()} == {
        "summary": "passed",
        "summary_shape": "passed",
    }


def test_apply_fails_an_expect_unchanged_path_that_moved(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim(endpoints=[{**SUMMARY, "expect_unchanged": ["$.as_of"]}])
    sim.seed()

    apply = ["run", "--mode", "apply", "--config", str(sim.config_path)]
    result = run_bundle(*apply, "--matchup-id", DEFAULT_MATCHUP_ID)

    assert result.exit_code == 1
    (failure,) = result.checks("failed")
    assert (
        "expect_unchanged $.as_of: changed since the baseline: $['as_of'] was" in failure["message"]
    )
