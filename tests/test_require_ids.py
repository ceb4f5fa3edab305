"""An empty id list, or a run whose every step is skipped, is a warning on the console and in
the report; ``--require-ids`` (or ``require_ids = true`` in the runbook) makes it exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from recovery_plugin import BundleResult
from recovery_plugin.cli import cli
from recovery_plugin.sim.harness import SimulatedService

SimFactory = Callable[..., SimulatedService]
Runner = Callable[..., BundleResult]


def _report(out: Path) -> dict[str, Any]:
    (path,) = out.glob("*/recovery_bundle_report.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_no_ids_is_a_warning_on_the_console_and_in_the_report(
    cli_runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = cli_runner.invoke(cli, ["run", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning: no matchup id" in result.output
    assert any("no matchup id" in w for w in _report(out)["warnings"])


def test_every_step_skipped_is_a_warning(cli_runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "--output-dir", str(out), "--matchup-id", "A"]
    result = cli_runner.invoke(cli, [*args, "--skip-ingest", "--skip-reprocess", "--skip-capture"])
    assert result.exit_code == 0, result.output
    assert "warning: every step is skipped" in result.output
    assert any("every step is skipped" in w for w in _report(out)["warnings"])


def test_require_ids_makes_no_ids_an_error(cli_runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli_runner.invoke(cli, ["run", "--output-dir", str(out), "--require-ids"])
    assert result.exit_code == 2, result.output
    assert "no matchup id" in result.output and "--require-ids" in result.output
    assert not out.exists() or not list(out.glob("*/recovery_bundle_report.json"))
    skip_all = ["--skip-ingest", "--skip-reprocess", "--skip-capture"]
    skipped = cli_runner.invoke(
        cli, ["run", "--output-dir", str(out), "--matchup-id", "A", "--require-ids", *skip_all]
    )
    assert skipped.exit_code == 2, skipped.output
    assert "every step is skipped" in skipped.output


def test_config_key_require_ids_makes_apply_refuse(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim(require_ids=True)
    result = run_bundle("run", "--mode", "apply", "--config", str(sim.config_path))
    assert result.exit_code == 2, result.output
    assert "no matchup id" in result.stderr and "require_ids" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
