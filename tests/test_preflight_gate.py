"""Preflight is a gate: dry-run reports what a step would lack (a required variable, the
executable, its script); apply refuses (exit 2, one line) unless ``--no-preflight``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from recovery_plugin import BundleResult
from recovery_plugin.cli import cli
from recovery_plugin.sim.data import MATCHUP_IDS
from recovery_plugin.sim.harness import SimulatedService

SimFactory = Callable[..., SimulatedService]
Runner = Callable[..., BundleResult]

ID = MATCHUP_IDS[0]


def test_dry_run_reports_missing_variables_and_scripts(
    cli_runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    env = {"DATABASE_URL": "", "INTERNAL_JOB_TOKEN": ""}
    result = cli_runner.invoke(cli, ["run", "--output-dir", str(out), "--matchup-id", "A"], env=env)
    assert result.exit_code == 0, result.output
    assert "preflight: required environment variable DATABASE_URL is not set" in result.output
    assert "scripts/qa/run_ingest_with_retry.py" in result.output
    (path,) = out.glob("*/recovery_bundle_report.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    problems = report["preflight_problems"]
    assert any("INTERNAL_JOB_TOKEN" in p for p in problems)
    assert any("scripts/qa/reprocess_single_matchup.py" in p for p in problems)
    assert report["preflight_overridden"] is False


def test_apply_refuses_a_step_whose_executable_is_missing(
    recovery_sim: SimFactory, run_bundle: Runner, tmp_path: Path
) -> None:
    sim = recovery_sim(steps={"ingest": {"command": ["no-such-tool-p9b", "--go"]}})
    result = run_bundle(
        "run", "--mode", "apply", "--config", str(sim.config_path), "--matchup-id", ID
    )
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert "no-such-tool-p9b" in line and "--no-preflight" in line
    assert not list((tmp_path / "runs").glob("*/recovery_bundle_report.json"))


def test_apply_refuses_a_missing_required_variable(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim(required_env=["DATABASE_URL", "P9B_NEEDED_TOKEN"])
    result = run_bundle(
        "run", "--mode", "apply", "--config", str(sim.config_path), "--matchup-id", ID
    )
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert "P9B_NEEDED_TOKEN" in line


def test_a_step_that_will_not_run_needs_nothing(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim(steps={"ingest": {"command": ["no-such-tool-p9b"]}})
    result = run_bundle(
        "run", "--mode", "apply", "--config", str(sim.config_path), "--matchup-id", ID,
        "--skip-ingest",
    )  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    assert result.report["preflight_problems"] == []


def test_no_preflight_runs_anyway_and_says_so(recovery_sim: SimFactory, run_bundle: Runner) -> None:
    sim = recovery_sim(steps={"ingest": {"command": ["no-such-tool-p9b"]}})
    result = run_bundle(
        "run", "--mode", "apply", "--config", str(sim.config_path), "--matchup-id", ID,
        "--no-preflight",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert result.step("ingest")["status"] == "failed"
    assert result.report["preflight_overridden"] is True
    assert any("no-such-tool-p9b" in p for p in result.report["preflight_problems"])


def test_each_step_is_looked_up_on_its_own_path_and_named_once(
    recovery_sim: SimFactory, run_bundle: Runner, tmp_path: Path
) -> None:
    """The same executable name, found on one step's PATH and not on the other's; many
    reprocess steps name their problem once."""
    tools = tmp_path / "tools"
    tools.mkdir()
    tool = tools / "p9b-tool"
    tool.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    tool.chmod(0o755)
    sim = recovery_sim(
        steps={
            "ingest": {"command": ["p9b-tool", "--go"], "env": {"PATH": str(tools)}},
            "reprocess": {"command": ["p9b-tool", "--go"], "env": {"PATH": "/nowhere"}},
        }
    )
    result = run_bundle(
        "run", "--mode", "dry-run", "--config", str(sim.config_path),
        *[arg for matchup_id in MATCHUP_IDS[:3] for arg in ("--matchup-id", matchup_id)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.report["preflight_problems"] == [
        "steps.reprocess: executable p9b-tool not found on PATH"
    ]
