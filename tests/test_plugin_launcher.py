"""The plugin inside the launcher: ``recovery-bundle verify`` as the CI gate, with a team's checks.

Each test runs the real CLI as a subprocess (``run_bundle``) against a fresh simulated service.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID
from recovery_plugin.sim.harness import SimulatedService

TEAM_CONFTEST = """
from recovery_plugin.config import EndpointSpec


def pytest_recovery_endpoints(config, endpoints):
    endpoints.append(EndpointSpec(name="health-twice", path="/health", expect_json={"status": "ok"}))


def pytest_recovery_checklist(report, checklist):
    checklist.append(f"escalate: #ops-oncall if {report['status']}")


def pytest_recovery_report(report):
    report["x_ticket"] = "OPS-7"
"""

TEAM_CHECKS = """
def test_the_summary_comes_from_articles(recovery_captures):
    assert recovery_captures.get("summary").body["data_source"] == "article"
"""

FAILING_TEAM_CHECK = """
def test_the_summary_comes_from_polls(recovery_captures):
    assert recovery_captures.get("summary").body["data_source"] == "poll"
"""


@pytest.fixture
def seeded(recovery_sim: RecoverySim) -> SimulatedService:
    sim = recovery_sim()
    sim.seed()
    return sim


def _checks_dir(tmp_path: Path, **files: str) -> Path:
    checks = tmp_path / "team-checks"
    checks.mkdir()
    for name, text in files.items():
        (checks / f"{name}.py").write_text(text, encoding="utf-8")
    return checks


def _verify(sim: SimulatedService, *extra: str) -> list[str]:
    return ["verify", "--api-base", sim.base_url, "--matchup-id", DEFAULT_MATCHUP_ID, *extra]


def test_checks_dir_runs_the_teams_checks_and_hooks_inside_verify(
    seeded: SimulatedService, run_bundle: RunBundle, tmp_path: Path
) -> None:
    checks = _checks_dir(tmp_path, conftest=TEAM_CONFTEST, test_team=TEAM_CHECKS)
    result = run_bundle(*_verify(seeded, "--checks-dir", str(checks)))

    assert result.exit_code == 0, result.output
    outcomes = {
        (t["endpoint"] or t["nodeid"].split("/")[-1]): t["outcome"] for t in result.checks()
    }
    assert outcomes == {
        "health": "passed",
        "summary": "passed",
        "matchup": "passed",
        "health-twice": "passed",
        "test_team.py::test_the_summary_comes_from_articles": "passed",
    }
    assert result.report["verification"]["summary"]["total"] == 5
    assert result.checklist[-1] == "escalate: #ops-oncall if success"
    assert result.report["x_ticket"] == "OPS-7"


PYTEST_FEATURES_CHECKS = """
import unittest

import pytest


class TestOldStyle(unittest.TestCase):
    def test_unittest_case(self):
        self.assertEqual(1 + 1, 2)


def test_tmp_path_and_monkeypatch(tmp_path, monkeypatch):
    monkeypatch.setenv("TEAM_FLAG", "1")
    (tmp_path / "x").write_text("ok")
    assert (tmp_path / "x").read_text() == "ok"


@pytest.mark.skip(reason="not this release")
def test_skipped():
    raise AssertionError("a skip mark must hold")


@pytest.mark.xfail(reason="known", strict=True)
def test_known_failure():
    assert False


def test_subtests(subtests):
    with subtests.test(msg="one"):
        assert True
"""


def test_a_teams_check_files_keep_pytests_own_fixtures_and_marks(
    seeded: SimulatedService, run_bundle: RunBundle, tmp_path: Path
) -> None:
    # A generated-only session leaves out pytest plugins its checks never use; check files
    # keep every one of them.
    checks = _checks_dir(tmp_path, test_features=PYTEST_FEATURES_CHECKS)
    result = run_bundle(*_verify(seeded, "--checks-dir", str(checks)))

    assert result.exit_code == 0, result.output
    outcomes = {t["nodeid"].split("::")[-1]: t["outcome"] for t in result.checks()}
    assert outcomes["test_tmp_path_and_monkeypatch"] == "passed"
    assert outcomes["test_unittest_case"] == "passed"
    assert outcomes["test_skipped"] == "skipped"
    assert outcomes["test_known_failure"] == "skipped"  # the report counts an xfail as skipped
    assert outcomes["test_subtests"] == "passed"  # json-report's "subtests passed"
    summary = result.report["verification"]["summary"]
    assert (summary["passed"], summary["skipped"], summary["failed"]) == (6, 2, 0)  # 3 are ours
    assert set(summary) == {"passed", "failed", "error", "skipped", "total"}


def test_a_failing_team_check_fails_the_gate_with_its_reason(
    seeded: SimulatedService, run_bundle: RunBundle, tmp_path: Path
) -> None:
    checks = _checks_dir(tmp_path, test_team=FAILING_TEAM_CHECK)
    result = run_bundle(*_verify(seeded, "--checks-dir", str(checks)))

    assert result.exit_code == 1
    (failed,) = result.checks("failed")
    assert failed["nodeid"].endswith("test_team.py::test_the_summary_comes_from_polls")
    assert "assert 'article' == 'poll'" in failed["message"]
    assert "assert 'article' == 'poll'" in result.output
    assert result.step("capture")["status"] == "failed"
    (guide,) = result.guides
    assert "test_the_summary_comes_from_polls" in guide


def test_verify_gate_exit_codes_junit_and_the_github_step_summary(
    recovery_sim: RecoverySim, run_bundle: RunBundle, tmp_path: Path
) -> None:
    sim = recovery_sim(faults={"endpoints": {"summary": {"status": 500}}})
    sim.seed()
    summary_md = tmp_path / "step-summary.md"
    summary_md.write_text("# Deploy 42\n", encoding="utf-8")
    env = {"GITHUB_STEP_SUMMARY": str(summary_md)}

    junit = tmp_path / "unhealthy.xml"
    unhealthy = run_bundle(*_verify(sim, "--junit-xml", str(junit)), env=env)
    assert unhealthy.exit_code == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    # A testcase per assertion group; a failed response leaves the summary's other groups out.
    # (verify reprocessed nothing: the matchup's reprocessed_assert group does not apply.)
    assert list(cases) == [
        "health::response",
        "health::contract",
        "summary::response",
        "matchup[20260603|광역자치단체장|11-000]::response",
        "matchup[20260603|광역자치단체장|11-000]::contract",
    ]
    assert (suite.get("tests"), suite.get("failures")) == (str(len(cases)), "1")
    (failure,) = suite.iter("failure")
    assert cases["summary::response"].find("failure") is failure
    assert "expected 200, got 500" in (failure.get("message") or "")

    text = summary_md.read_text(encoding="utf-8")
    assert text.startswith("# Deploy 42\n")  # appended, never overwritten
    assert "## recovery-bundle verify: failed" in text
    assert "| check | outcome | reason |" in text
    assert "| recovery::health | passed |  |" in text
    assert (
        "| recovery::summary | failed | GET /api/v1/dashboard/summary: status mismatch:"
        " expected 200, got 500 (detail: injected fault) |"
    ) in text
    assert "- rollback-guide: capture failed for summary" in text

    sim.set_faults(None)
    junit = tmp_path / "healthy.xml"
    healthy = run_bundle(*_verify(sim, "--junit-xml", str(junit)), env=env)
    assert healthy.exit_code == 0, healthy.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0")
    assert int(suite.get("tests") or 0) >= 3
    text = summary_md.read_text(encoding="utf-8")
    assert text.count("## recovery-bundle verify:") == 2
    assert text.rstrip().endswith("| passed |  |")  # the healthy run's table, with no guides


def test_run_bundle_does_not_inherit_the_launchers_environment(
    seeded: SimulatedService,
    run_bundle: RunBundle,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A developer's exported API_BASE_URL or a CI runner's GITHUB_STEP_SUMMARY stay out."""
    summary_md = tmp_path / "ci-summary.md"
    monkeypatch.setenv("API_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_md))
    result = run_bundle("verify", "--config", str(seeded.config_path))
    assert result.exit_code == 0, result.output
    assert result.report["api_base"] == seeded.base_url
    assert not summary_md.exists()
    # ... unless a test passes them on purpose
    explicit = run_bundle(
        "verify", "--config", str(seeded.config_path), env={"GITHUB_STEP_SUMMARY": str(summary_md)}
    )
    assert explicit.exit_code == 0
    assert "## recovery-bundle verify: success" in summary_md.read_text(encoding="utf-8")


def test_the_launcher_of_a_verify_loads_no_http_client_and_no_jsonpath_library(
    seeded: SimulatedService, tmp_path: Path
) -> None:
    # Every request is the capture process's (the contract's document included), and the
    # default profile's JSONPaths are member names: the launcher pays for neither import.
    seen = tmp_path / "modules.txt"
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['recovery-bundle', *{_verify(seeded, '--output-dir', str(tmp_path / 'runs'))!r}]\n"
        "try:\n"
        "    runpy.run_module('recovery_plugin', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        f"open({str(seen)!r}, 'w').write(repr((code, sorted(\n"
        "    m for m in ('httpx', 'httpcore', 'jsonpath', 'pytest') if m in sys.modules))))\n"
    )
    env = {**os.environ, **seeded.env}
    subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, timeout=120)

    assert seen.read_text(encoding="utf-8") == repr((0, ["pytest"]))
