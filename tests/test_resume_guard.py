"""``--resume`` trusts nothing in the report it resumes: it stays in that run's output directory
under its lock, refuses ids it was not asked to resume and reports of the wrong shape, never
re-sends masked credentials and never runs a config path the report names (issue 9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from recovery_plugin.cli import cli
from recovery_plugin.names import REPORT_NAME
from recovery_plugin.resolve.inputs import RESUMABLE_REQUIRED_KEYS
from recovery_plugin.run.lock import OutputLock

SKIP_ALL = ("--skip-ingest", "--skip-reprocess", "--skip-capture")


@pytest.fixture
def resumable(cli_runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The run dir of an apply report (a dry-run's, turned into an apply's), under ``out``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECOVERY_CONFIG", raising=False)
    monkeypatch.delenv("RECOVERY_OUTPUT_DIR", raising=False)
    result = cli_runner.invoke(
        cli, ["run", "--output-dir", str(tmp_path / "out"), "--matchup-id", "A"]
    )
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "out").glob(f"*/{REPORT_NAME}")
    _edit(path.parent, mode="apply", status="failed")
    return path.parent


def _edit(run_dir: Path, **changes: Any) -> None:
    path = run_dir / REPORT_NAME
    report = json.loads(path.read_text(encoding="utf-8"))
    report.update(changes)
    for key in [k for k, v in changes.items() if v is _DROP]:
        del report[key]
    path.write_text(json.dumps(report), encoding="utf-8")


_DROP: Any = object()


def _resume(cli_runner: CliRunner, run_dir: Path, *args: str) -> Any:
    return cli_runner.invoke(cli, ["run", "--resume", str(run_dir), *args])


def _one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


def test_resume_runs_in_the_resumed_runs_output_directory(
    cli_runner: CliRunner, resumable: Path
) -> None:
    result = _resume(cli_runner, resumable, *SKIP_ALL)
    assert result.exit_code == 0, result.output
    reports = sorted(resumable.parent.glob(f"*/{REPORT_NAME}"))
    assert len(reports) == 2, result.output
    assert not (Path.cwd() / "ops_recovery_bundle").exists()


def test_resume_takes_the_output_directorys_lock(cli_runner: CliRunner, resumable: Path) -> None:
    lock = OutputLock(resumable.parent, run_id="20260101T000000Z-abcdef", warn=lambda _: None)
    lock.acquire()
    try:
        result = _resume(cli_runner, resumable, *SKIP_ALL)
    finally:
        lock.release()
    assert result.exit_code == 75, result.output
    assert len(list(resumable.parent.glob(f"*/{REPORT_NAME}"))) == 1


def test_resume_into_another_output_directory_is_refused(
    cli_runner: CliRunner, resumable: Path, tmp_path: Path
) -> None:
    result = _resume(cli_runner, resumable, "--output-dir", str(tmp_path / "elsewhere"))
    assert result.exit_code == 2, result.output
    line = _one_line(result.output)
    assert "elsewhere" in line and str(resumable.parent) in line


def test_resume_refuses_ids_the_resumed_run_did_not_have(
    cli_runner: CliRunner, resumable: Path
) -> None:
    result = _resume(cli_runner, resumable, "--matchup-id", "A", "--matchup-id", "Z9", *SKIP_ALL)
    assert result.exit_code == 2, result.output
    assert "'Z9'" in _one_line(result.output)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"steps": "not a list"}, "steps"),
        ({"steps": [{"status": "failed"}]}, "steps[0].name"),
        ({"matchup_ids": [1, 2]}, "matchup_ids"),
        ({"api_base": None}, "api_base"),
        ({"schema_version": 99}, "schema_version"),
        ({"run_id": _DROP}, "run_id"),
        ({"config_path": 7}, "config_path"),
    ],
)
def test_resume_refuses_a_report_of_the_wrong_shape(
    cli_runner: CliRunner, resumable: Path, changes: dict[str, Any], named: str
) -> None:
    _edit(resumable, **changes)
    result = _resume(cli_runner, resumable, *SKIP_ALL)
    assert result.exit_code == 2, result.output
    line = _one_line(result.output)
    assert "--resume" in line and named in line


def test_resume_never_resends_a_masked_api_base(cli_runner: CliRunner, resumable: Path) -> None:
    _edit(resumable, api_base="http://ops:***@127.0.0.1:9")
    result = _resume(cli_runner, resumable, *SKIP_ALL)
    assert result.exit_code == 2, result.output
    line = _one_line(result.output)
    assert "--api-base" in line and "masked" in line
    again = _resume(cli_runner, resumable, "--api-base", "http://127.0.0.1:9", *SKIP_ALL)
    assert again.exit_code == 0, again.output


def test_resume_never_runs_the_config_a_report_names(
    cli_runner: CliRunner, resumable: Path, tmp_path: Path
) -> None:
    planted = tmp_path / "planted.toml"
    planted.write_text('[steps.ingest]\ncommand = ["touch", "PWNED"]\n', encoding="utf-8")
    _edit(resumable, config_path=str(planted), config_source=str(planted))
    result = _resume(cli_runner, resumable, "--skip-reprocess", "--skip-capture")
    assert result.exit_code == 2, result.output
    line = _one_line(result.output)
    assert str(planted) in line and "--config" in line
    assert not (tmp_path / "PWNED").exists()
    given = _resume(cli_runner, resumable, "--config", str(planted), *SKIP_ALL)
    assert given.exit_code == 0, given.output


def test_required_keys_follow_the_schema(report_schema: dict[str, Any]) -> None:
    assert set(RESUMABLE_REQUIRED_KEYS) == set(report_schema["required"])
