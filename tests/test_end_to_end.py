"""The whole flow as an operator runs it: real launcher subprocess, real simulated service."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from conftest import KOREAN_ID
from recovery_plugin import BundleResult
from recovery_plugin.sim.harness import SimulatedService

SimFactory = Callable[..., SimulatedService]
Runner = Callable[..., BundleResult]


def _apply(
    run_bundle: Runner, sim: SimulatedService, *ids: str, extra: tuple[str, ...] = ()
) -> BundleResult:
    args = ["run", "--mode", "apply", "--config", str(sim.config_path)]
    for matchup_id in ids:
        args += ["--matchup-id", matchup_id]
    return run_bundle(*args, *extra)


def test_apply_on_the_simulated_service_succeeds(
    recovery_sim: SimFactory,
    run_bundle: Runner,
    assert_valid_report: Callable[[dict[str, Any]], None],
) -> None:
    sim = recovery_sim()
    result = _apply(run_bundle, sim, KOREAN_ID)
    assert result.exit_code == 0, result.output
    report = result.report
    assert_valid_report(report)
    assert report["status"] == "success"
    assert [(s["name"], s["status"]) for s in report["steps"]] == [
        ("ingest", "success"),
        ("reprocess", "success"),
        ("capture", "success"),
    ]
    assert report["verification"]["summary"] == {
        "passed": 3,
        "failed": 0,
        "error": 0,
        "skipped": 0,
        "total": 3,
    }
    assert report["preflight"] == {"DATABASE_URL": True, "INTERNAL_JOB_TOKEN": True}
    # The steps' own reports are where the report says they are, and say success.
    ingest_report = json.loads(
        Path(result.step("ingest")["output_path"]).read_text(encoding="utf-8")
    )
    assert ingest_report["success"] is True
    reprocess_report = json.loads(
        Path(result.step("reprocess")["output_path"]).read_text(encoding="utf-8")
    )
    assert reprocess_report["status"] == "success"
    assert reprocess_report["target"]["matchup_id"] == KOREAN_ID
    for step in report["steps"][:2]:
        assert Path(step["log_path"]).is_file()
        assert step["attempts"][0]["exit_code"] == 0
    assert "recovery-bundle apply: success" in result.stdout


def test_korean_id_round_trips_as_one_encoded_segment(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim()
    result = _apply(run_bundle, sim, KOREAN_ID)
    capture = result.capture("matchup", KOREAN_ID)
    assert capture["path"] == "/api/v1/matchups/" + quote(KOREAN_ID, safe="")
    assert "%7C" in capture["url"]
    assert capture["status"] == 200
    assert capture["body"]["matchup_id"] == KOREAN_ID
    (check,) = [t for t in result.checks() if t["endpoint"] == "matchup"]
    assert check["matchup_id"] == KOREAN_ID
    assert check["outcome"] == "passed"
    reprocess_dir = Path(result.step("reprocess", KOREAN_ID)["output_path"]).parent
    assert reprocess_dir.parent == result.run_dir / "steps"
    assert "|" not in reprocess_dir.name


def test_failing_ingest_skips_reprocess_but_still_verifies(
    recovery_sim: SimFactory,
    run_bundle: Runner,
    assert_valid_report: Callable[[dict[str, Any]], None],
) -> None:
    sim = recovery_sim(faults={"ingest": {"always_fail": True}})
    result = _apply(run_bundle, sim, KOREAN_ID)
    assert result.exit_code == 1
    assert_valid_report(result.report)
    assert result.report["status"] == "failed"
    assert result.step("ingest")["status"] == "failed"
    reprocess = result.step("reprocess")
    assert reprocess["status"] == "skipped"
    assert "--continue-on-error" in reprocess["error"]
    capture = result.step("capture")
    assert capture["status"] == "failed"  # nothing was ingested: the matchup is still 404
    assert {t["endpoint"]: t["outcome"] for t in result.checks()} == {
        "health": "passed",
        "summary": "passed",
        "matchup": "failed",
    }
    (guide,) = [g for g in result.guides if g.startswith("retry-guide: ingest")]
    assert "1 attempt(s)" in guide
    assert "dead-letter" in guide
    assert any(g.startswith("rollback-guide: capture") for g in result.guides)


def test_continue_on_error_runs_the_later_steps(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim(faults={"ingest": {"always_fail": True}})
    sim.seed()  # data is there already, so reprocess can succeed on its own
    result = _apply(run_bundle, sim, KOREAN_ID, extra=("--continue-on-error",))
    assert result.exit_code == 1
    assert result.step("reprocess")["status"] == "success"
    assert result.step("capture")["status"] == "success"


def test_one_failing_endpoint_does_not_stop_the_others(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim(faults={"endpoints": {"summary": {"status": 500}}})
    result = _apply(run_bundle, sim, KOREAN_ID)
    assert result.exit_code == 1
    outcomes = {t["endpoint"]: t["outcome"] for t in result.checks()}
    assert outcomes == {"health": "passed", "summary": "failed", "matchup": "passed"}
    (failed,) = result.checks("failed")
    assert "status mismatch: expected 200, got 500" in failed["message"]
    (guide,) = [g for g in result.guides if g.startswith("rollback-guide: capture")]
    assert "summary" in guide
    assert guide.index("/health") < guide.index("/api/v1/dashboard/summary")
    assert result.step("ingest")["status"] == "success"


def test_verify_is_read_only_and_gates(
    recovery_sim: SimFactory,
    run_bundle: Runner,
    tmp_path: Path,
    assert_valid_report: Callable[[dict[str, Any]], None],
) -> None:
    sim = recovery_sim()
    unhealthy = run_bundle("verify", "--api-base", sim.base_url, "--matchup-id", KOREAN_ID)
    assert unhealthy.exit_code == 1  # nothing ingested yet: the matchup is 404
    assert_valid_report(unhealthy.report)
    assert [s["name"] for s in unhealthy.report["steps"]] == ["capture"]
    assert unhealthy.report["mode"] == "verify"
    sim.seed()
    junit = tmp_path / "junit.xml"
    healthy = run_bundle(
        "verify", "--api-base", sim.base_url, "--matchup-id", KOREAN_ID, "--junit-xml", str(junit)
    )
    assert healthy.exit_code == 0, healthy.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    names = [case.get("name") for case in suite.iter("testcase")]
    assert {name.split("::")[0] for name in names if name} == {
        "health",
        "summary",
        f"matchup[{KOREAN_ID}]",
    }
    assert f"matchup[{KOREAN_ID}]::response" in names
    assert (suite.get("tests"), suite.get("failures")) == (str(len(names)), "0")


def test_unreachable_service_fails_every_check_with_a_reason(
    run_bundle: Runner, tmp_path: Path
) -> None:
    config = tmp_path / "fast.toml"
    config.write_text("[capture]\nreadiness_deadline = 0.2\ntimeout = 1\n", encoding="utf-8")
    result = run_bundle(
        "verify", "--config", str(config), "--api-base", "http://127.0.0.1:9", "--matchup-id", "X"
    )
    assert result.exit_code == 1
    assert result.report["readiness"]["ready"] is False
    messages = [t["message"] for t in result.checks("failed")]
    assert len(messages) == 3
    assert all("connection refused" in m for m in messages)
    assert any(line.startswith("readiness:") for line in result.checklist)


def test_demo_runs_green(run_bundle: Runner, tmp_path: Path) -> None:
    result = run_bundle("demo", "--output-dir", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.output
    assert result.report["status"] == "success"
    summary = result.report["verification"]["summary"]
    assert summary["failed"] == 0 and summary["passed"] == summary["total"] > 3


def test_cli_start_up_does_not_import_heavy_modules(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from recovery_plugin.cli import main\n"
        "for argv in (['--help'], ['run', '--help'], ['run', '--mode', 'dry-run', '--matchup-id', 'X',"
        f" '--output-dir', {str(tmp_path)!r}]):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        "heavy = sorted(m for m in ('pytest', '_pytest', 'httpx', 'tenacity', 'recovery_plugin.sim.server',"
        " 'recovery_plugin.plugin', 'tempfile', 'hashlib', 'tomllib', 'logging', 'socket', 'getpass',"
        " 'subprocess') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    # -S with this interpreter's path: a .pth file of the machine (certifi's, say) may import
    # tempfile or logging before the launcher runs and hide what the launcher itself imports.
    boot = f"import sys; sys.path[:] = {sys.path!r}\n"
    proc = subprocess.run(
        [sys.executable, "-S", "-c", boot + probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


def test_the_verification_session_loads_only_listed_plugins(
    recovery_sim: SimFactory, run_bundle: Runner, tmp_path: Path
) -> None:
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    (plugin_dir / "team_escalation.py").write_text(
        "def pytest_recovery_checklist(report, checklist):\n"
        "    checklist.append('escalate: #ops-oncall (team plugin)')\n",
        encoding="utf-8",
    )
    sim = recovery_sim()
    sim.seed()
    env = {"PYTHONPATH": str(plugin_dir)}
    verify = ("verify", "--config", str(sim.config_path), "--matchup-id", KOREAN_ID)
    without = run_bundle(*verify, env=env)
    assert without.exit_code == 0
    assert not any(line.startswith("escalate:") for line in without.checklist)
    sim.write_runbook(capture={"pytest_plugins": ["team_escalation"]})
    listed = run_bundle(*verify, env=env)
    assert listed.exit_code == 0, listed.output
    assert listed.checklist[-1] == "escalate: #ops-oncall (team plugin)"


def test_a_runbook_plugin_that_skips_a_check_by_a_mark_is_obeyed(
    recovery_sim: SimFactory, run_bundle: Runner, tmp_path: Path
) -> None:
    """A team's runbook plugin (no check files) marking a generated check skip or xfail: the
    session keeps pytest's skipping plugin for it, as it does for check files."""
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    (plugin_dir / "team_maintenance.py").write_text(
        "import pytest\n"
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        "        if item.nodeid == 'recovery::summary':\n"
        "            item.add_marker(pytest.mark.skip(reason='summary under maintenance'))\n",
        encoding="utf-8",
    )
    sim = recovery_sim()
    sim.seed()
    sim.write_runbook(capture={"pytest_plugins": ["team_maintenance"]})
    result = run_bundle(
        "verify",
        "--config",
        str(sim.config_path),
        "--matchup-id",
        KOREAN_ID,
        env={"PYTHONPATH": str(plugin_dir)},
    )
    assert result.exit_code == 0, result.output
    outcomes = {t["endpoint"]: t["outcome"] for t in result.report["verification"]["tests"]}
    assert outcomes == {"health": "passed", "summary": "skipped", "matchup": "passed"}


def test_the_callers_pytest_addopts_do_not_reach_the_generated_session(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim()
    sim.seed()
    result = run_bundle(
        "verify",
        "--api-base",
        sim.base_url,
        "--matchup-id",
        KOREAN_ID,
        env={"PYTEST_ADDOPTS": "-k nothing --lf"},
    )
    assert result.exit_code == 0, result.output
    assert result.report["verification"]["summary"]["passed"] == 3
