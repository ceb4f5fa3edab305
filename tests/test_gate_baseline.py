"""The plain-pytest gate compares with an earlier run's capture: ``--recovery-baseline RUN_DIR``,
env ``RECOVERY_BASELINE`` or ini ``recovery_baseline`` — as ``recovery-bundle verify --baseline``."""

from __future__ import annotations

from pathlib import Path

import pytest

from recovery_plugin.pytest_plugin.fixtures import RecoverySim, RunBundle
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID
from recovery_plugin.sim.harness import SimulatedService

UNCHANGED = (
    '[[endpoints]]\nname = "summary"\npath = "/api/v1/dashboard/summary"\n'
    'expect_unchanged = ["$.selection_policy_version"]\n'
)
MOVED = "expect_unchanged $.selection_policy_version: changed since the baseline"


pytestmark = pytest.mark.usefixtures("plugin_sessions_env")


@pytest.fixture
def sim(recovery_sim: RecoverySim) -> SimulatedService:
    service = recovery_sim()
    service.seed()
    return service


@pytest.fixture
def baseline(sim: SimulatedService, run_bundle: RunBundle) -> Path:
    """A verify run's directory: the baseline capture of the healthy service."""
    result = run_bundle("verify", "--api-base", sim.base_url, "--matchup-id", DEFAULT_MATCHUP_ID)
    assert result.exit_code == 0, result.output
    assert result.run_dir is not None
    return result.run_dir


def _gate(pytester: pytest.Pytester, sim: SimulatedService, *extra: str) -> pytest.RunResult:
    pytester.makefile(".toml", checks=UNCHANGED)
    return pytester.runpytest_inprocess(
        "--recovery-base-url",
        sim.base_url,
        "--recovery-matchup-id",
        DEFAULT_MATCHUP_ID,
        "--recovery-config=checks.toml",
        "-p",
        "no:cacheprovider",
        *extra,
    )


def test_the_flag_compares_with_the_baseline_run(
    pytester: pytest.Pytester, sim: SimulatedService, baseline: Path
) -> None:
    passed = _gate(pytester, sim, f"--recovery-baseline={baseline}")
    passed.assert_outcomes(passed=1)

    sim.set_faults({"endpoints": {"summary": {"body": {"selection_policy_version": "v-moved"}}}})
    moved = _gate(pytester, sim, f"--recovery-baseline={baseline}")
    assert moved.ret == pytest.ExitCode.TESTS_FAILED
    assert MOVED in moved.stdout.str()


def test_without_a_baseline_the_effect_check_says_how_to_give_one(
    pytester: pytest.Pytester, sim: SimulatedService
) -> None:
    result = _gate(pytester, sim)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*no baseline capture to compare with*"])


def test_the_env_and_the_ini_twin_work_and_the_flag_wins(
    pytester: pytest.Pytester,
    sim: SimulatedService,
    baseline: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECOVERY_BASELINE", str(baseline))
    _gate(pytester, sim).assert_outcomes(passed=1)
    monkeypatch.delenv("RECOVERY_BASELINE")

    pytester.makeini(f"[pytest]\nrecovery_baseline = {baseline}\n")
    _gate(pytester, sim).assert_outcomes(passed=1)

    wrong = pytester.path / "not-a-run"
    wrong.mkdir()
    result = _gate(pytester, sim, f"--recovery-baseline={wrong}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*recovery: --recovery-baseline: no api_capture.json in {wrong}*"]
    )


def test_a_bad_env_baseline_is_named_as_the_env_var(
    pytester: pytest.Pytester, sim: SimulatedService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECOVERY_BASELINE", str(pytester.path))
    result = _gate(pytester, sim)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*recovery: env RECOVERY_BASELINE: no api_capture.json in*"])


def test_verify_reads_the_same_env_var(
    sim: SimulatedService, run_bundle: RunBundle, tmp_path: Path
) -> None:
    result = run_bundle(
        "verify",
        "--api-base",
        sim.base_url,
        "--matchup-id",
        DEFAULT_MATCHUP_ID,
        env={"RECOVERY_BASELINE": str(tmp_path)},
    )
    assert result.exit_code == 2
    assert f"env RECOVERY_BASELINE: no api_capture.json in {tmp_path}" in result.output
