"""The endpoint expectations through the plain ``pytest --recovery-base-url`` gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recovery_plugin.names import REPORT_NAME
from recovery_plugin.pytest_plugin.fixtures import RecoverySim
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID
from recovery_plugin.sim.harness import SimulatedService

pytestmark = pytest.mark.usefixtures("plugin_sessions_env")


def _gate(pytester: pytest.Pytester, sim: SimulatedService, runbook: str) -> pytest.RunResult:
    config = pytester.path / "checks.toml"
    config.write_text(runbook, encoding="utf-8")
    return pytester.runpytest_inprocess(
        "--recovery-base-url",
        sim.base_url,
        "--recovery-matchup-id",
        DEFAULT_MATCHUP_ID,
        "--recovery-config",
        str(config),
        "--recovery-output-dir",
        str(pytester.path / "out"),
        "-p",
        "no:cacheprovider",
    )


def _report(pytester: pytest.Pytester) -> dict[str, object]:
    (run_dir,) = list((pytester.path / "out").iterdir())
    data: dict[str, object] = json.loads((run_dir / REPORT_NAME).read_text(encoding="utf-8"))
    return data


MATCHUP = '[[endpoints]]\nname = "matchup"\npath = "/api/v1/matchups/{matchup_id}"\n'


@pytest.fixture
def healthy(recovery_sim: RecoverySim) -> SimulatedService:
    sim = recovery_sim()
    sim.seed()
    return sim


def test_assertions_that_hold_pass(pytester: pytest.Pytester, healthy: SimulatedService) -> None:
    runbook = (
        MATCHUP + "max_ms = 10000\n"
        '[[endpoints.assert]]\npath = "$.matchup_id"\nop = "=="\nvalue = "{matchup_id}"\n'
        '[[endpoints.assert]]\npath = "$.options[*].value_mid"\nop = ">="\nvalue = 0\n'
    )
    result = _gate(pytester, healthy, runbook)
    result.assert_outcomes(passed=1)
    (test,) = _report(pytester)["verification"]["tests"]  # type: ignore[index]
    assert test["contract"]["outcome"] == "passed"


def test_a_failing_assertion_names_the_path_and_the_value(
    pytester: pytest.Pytester, healthy: SimulatedService
) -> None:
    runbook = MATCHUP + '[[endpoints.assert]]\npath = "$.fallback_mode"\nop = "=="\nvalue = "x"\n'
    result = _gate(pytester, healthy, runbook)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(['*$.fallback_mode == "x": got "none"*'])


def test_an_slo_is_its_own_item_after_the_endpoint_checks(
    pytester: pytest.Pytester, healthy: SimulatedService
) -> None:
    runbook = MATCHUP + "slo = { p95_ms = 0.001 }\n"
    result = _gate(pytester, healthy, runbook)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*recovery::slo?matchup?*matchup SLO failed: p95 * ms over 0.001 ms*"]
    )
    tests = _report(pytester)["verification"]["tests"]  # type: ignore[index]
    assert [t["nodeid"] for t in tests] == [
        f"recovery::matchup[{DEFAULT_MATCHUP_ID}]",
        "recovery::slo[matchup]",
    ]
    assert tests[1]["slo"]["samples"] == 1


def test_a_poll_halts_at_once_on_a_halt_status(
    pytester: pytest.Pytester, recovery_sim: RecoverySim
) -> None:
    sim = recovery_sim(faults={"endpoints": {"matchup": {"status": 403}}})
    sim.seed()
    runbook = MATCHUP + 'poll = { deadline = 60, interval = 5, halt_on = [{ status = ["4XX"] }] }\n'
    result = _gate(pytester, sim, runbook)
    result.assert_outcomes(failed=1)
    (test,) = _report(pytester)["verification"]["tests"]  # type: ignore[index]
    assert test["poll"]["outcome"] == "halted"
    assert len(test["poll"]["attempts"]) == 1


def test_expect_changed_without_a_baseline_says_so(
    pytester: pytest.Pytester, healthy: SimulatedService
) -> None:
    result = _gate(pytester, healthy, MATCHUP + 'expect_changed = ["$.title"]\n')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no baseline capture to compare with*--baseline RUN_DIR*"])


def test_a_service_without_openapi_json_skips_the_contract_with_a_note(
    pytester: pytest.Pytester, recovery_sim: RecoverySim
) -> None:
    sim = recovery_sim(faults={"endpoints": {"openapi": {"status": 404}}})
    sim.seed()
    result = _gate(pytester, sim, 'openapi = "{api_base}/openapi.json"\n' + MATCHUP)
    result.assert_outcomes(passed=1)
    report = _report(pytester)
    (test,) = report["verification"]["tests"]  # type: ignore[index]
    assert test["contract"]["outcome"] == "skipped"
    assert "does not serve" in test["notes"][0]
    assert report["verification"]["contract"]["outcome"] == "missing"  # type: ignore[index]


def test_expect_schema_file(
    pytester: pytest.Pytester, healthy: SimulatedService, tmp_path: Path
) -> None:
    schema = tmp_path / "matchup.json"
    schema.write_text(
        json.dumps({"type": "object", "properties": {"has_data": {"type": "string"}}}),
        encoding="utf-8",
    )
    result = _gate(pytester, healthy, MATCHUP + f'expect_schema = "{schema}"\n')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*$.has_data: True is not of type 'string'*"])
