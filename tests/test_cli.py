"""The launcher through click's CliRunner: flags, dry-run, reports and user errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import KOREAN_ID, CountingServer
from recovery_plugin.cli import cli


def _report(output_dir: Path) -> dict[str, Any]:
    (report_path,) = output_dir.glob("*/recovery_bundle_report.json")
    data: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    return data


def test_help_lists_commands_and_exit_codes(cli_runner: CliRunner) -> None:
    result = cli_runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "verify", "demo", "sim"):
        assert command in result.output
    run_help = cli_runner.invoke(cli, ["run", "--help"])
    assert run_help.exit_code == 0
    for flag in (
        "--mode",
        "--api-base",
        "--matchup-id",
        "--poll-fingerprint",
        "--input",
        "--output-dir",
        "--report",
        "--continue-on-error",
        "--skip-ingest",
        "--skip-reprocess",
        "--skip-capture",
        "--capture-timeout",
        "--config",
        "--json",
    ):
        assert flag in run_help.output
    assert "130 interrupted" in " ".join(run_help.output.split())


def test_seed_smoke_command_plans_three_steps(
    cli_runner: CliRunner, tmp_path: Path, assert_valid_report: Callable[[dict[str, Any]], None]
) -> None:
    out = tmp_path / "ops_bundle_demo"
    result = cli_runner.invoke(
        cli,
        [
            "run",
            "--mode",
            "dry-run",
            "--matchup-id",
            KOREAN_ID,
            "--output-dir",
            str(out),
            "--report",
            str(out / "report.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    copy = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert copy == _report(out)
    assert copy["status"] == "dry-run"
    assert [(s["name"], s["status"]) for s in copy["steps"]] == [
        ("ingest", "planned"),
        ("reprocess", "planned"),
        ("capture", "planned"),
    ]
    assert copy["matchup_id"] == KOREAN_ID
    assert_valid_report(copy)


def test_dry_run_executes_nothing(
    cli_runner: CliRunner, tmp_path: Path, counting_server: CountingServer
) -> None:
    marker = tmp_path / "ingest-ran"
    config = tmp_path / "recovery.toml"
    config.write_text(
        "[steps.ingest]\n"
        f'command = ["{{python}}", "-c", "open({str(marker)!r}, \'w\')"]\n'
        "[steps.reprocess]\n"
        f'command = ["{{python}}", "-c", "open({str(marker)!r}, \'w\')", "{{matchup_id}}"]\n',
        encoding="utf-8",
    )
    result = cli_runner.invoke(
        cli,
        [
            "run",
            "--config",
            str(config),
            "--api-base",
            counting_server.url,
            "--matchup-id",
            "A",
            "--output-dir",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert not marker.exists()
    assert counting_server.requests == []
    report = _report(tmp_path / "out")
    assert {s["status"] for s in report["steps"]} == {"planned"}
    ingest = report["steps"][0]
    assert ingest["command"] == [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]
    assert report["steps"][1]["command"][-1] == "A"
    run_dir = Path(report["run_dir"])
    assert sorted(p.name for p in run_dir.iterdir()) == ["recovery_bundle_report.json"]


def test_each_run_gets_its_own_directory(cli_runner: CliRunner, tmp_path: Path) -> None:
    for _ in range(2):
        result = cli_runner.invoke(cli, ["run", "--output-dir", str(tmp_path)])
        assert result.exit_code == 0
    assert len(list(tmp_path.glob("*/recovery_bundle_report.json"))) == 2


def test_json_flag_prints_the_report_on_stdout(cli_runner: CliRunner, tmp_path: Path) -> None:
    result = cli_runner.invoke(cli, ["run", "--json", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == _report(tmp_path)


def test_poll_fingerprint_is_appended_to_the_default_reprocess_command(
    cli_runner: CliRunner, tmp_path: Path
) -> None:
    args = [
        "run",
        "--output-dir",
        str(tmp_path),
        "--matchup-id",
        "X",
        "--poll-fingerprint",
        "abc123",
    ]
    assert cli_runner.invoke(cli, args).exit_code == 0
    command = _report(tmp_path)["steps"][1]["command"]
    assert command[-2:] == ["--poll-fingerprint", "abc123"]


def test_precedence_flag_over_env_over_config(cli_runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "recovery.toml"
    config.write_text('api_base = "http://config.invalid:1"\n', encoding="utf-8")
    base = ["run", "--config", str(config)]
    cli_runner.invoke(cli, [*base, "--output-dir", str(tmp_path / "a")])
    assert _report(tmp_path / "a")["api_base"] == "http://config.invalid:1"
    env = {"API_BASE_URL": "http://env.invalid:2"}
    cli_runner.invoke(cli, [*base, "--output-dir", str(tmp_path / "b")], env=env)
    assert _report(tmp_path / "b")["api_base"] == "http://env.invalid:2"
    flag = ["--api-base", "http://flag.invalid:3", "--output-dir", str(tmp_path / "c")]
    cli_runner.invoke(cli, [*base, *flag], env=env)
    assert _report(tmp_path / "c")["api_base"] == "http://flag.invalid:3"


def test_recovery_toml_in_working_directory_is_found(
    cli_runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recovery.toml").write_text('output_dir = "from-config"\n', encoding="utf-8")
    result = cli_runner.invoke(cli, ["run"])
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "from-config").glob("*/recovery_bundle_report.json"))


def test_pyproject_tool_table_is_found(
    cli_runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "svc"\n[tool.recovery_bundle]\noutput_dir = "pp-runs"\n',
        encoding="utf-8",
    )
    assert cli_runner.invoke(cli, ["run"]).exit_code == 0
    report = _report(tmp_path / "pp-runs")
    assert report["config_source"].endswith("[tool.recovery_bundle]")


def _one_line_error(result: Any, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("recovery-bundle: error: ") or lines[0].startswith("Error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.output


def test_bad_config_is_a_one_line_error(cli_runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[steps.ingest]\ntimeout = 'soon'\n", encoding="utf-8")
    result = cli_runner.invoke(cli, ["run", "--config", str(config), "--output-dir", str(tmp_path)])
    _one_line_error(result, str(config), "steps.ingest.timeout", "must be a number")


def test_unknown_key_and_placeholder_are_named(cli_runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("api_bsae = 'x'\n", encoding="utf-8")
    _one_line_error(
        cli_runner.invoke(cli, ["run", "--config", str(config)]), "api_bsae", "unknown key"
    )
    config.write_text("[steps.ingest]\ncommand = ['{python}', '{nope}']\n", encoding="utf-8")
    _one_line_error(
        cli_runner.invoke(cli, ["run", "--config", str(config)]),
        "steps.ingest.command[1]",
        "{nope}",
    )


def test_missing_config_file(cli_runner: CliRunner, tmp_path: Path) -> None:
    result = cli_runner.invoke(cli, ["run", "--config", str(tmp_path / "absent.toml")])
    _one_line_error(result, "config file not found", "absent.toml")


def test_bad_api_base_names_its_source(cli_runner: CliRunner, tmp_path: Path) -> None:
    result = cli_runner.invoke(cli, ["run", "--api-base", "ftp://x", "--output-dir", str(tmp_path)])
    _one_line_error(result, "ftp://x", "--api-base", "http")
    result = cli_runner.invoke(
        cli, ["run", "--output-dir", str(tmp_path)], env={"API_BASE_URL": "not a url"}
    )
    _one_line_error(result, "env API_BASE_URL")


def test_output_dir_that_is_a_file(cli_runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    _one_line_error(
        cli_runner.invoke(cli, ["run", "--output-dir", str(target)]), str(target), "not a directory"
    )


def test_empty_matchup_id_is_rejected(cli_runner: CliRunner, tmp_path: Path) -> None:
    result = cli_runner.invoke(cli, ["run", "--matchup-id", " ", "--output-dir", str(tmp_path)])
    _one_line_error(result, "--matchup-id", "empty")
    assert not list(tmp_path.iterdir())


def test_bad_mode_is_a_usage_error(cli_runner: CliRunner) -> None:
    result = cli_runner.invoke(cli, ["run", "--mode", "yolo"])
    assert result.exit_code == 2
    assert "yolo" in result.output
    assert "Traceback" not in result.output


def test_duplicate_ids_are_removed_with_a_warning(cli_runner: CliRunner, tmp_path: Path) -> None:
    result = cli_runner.invoke(
        cli, ["run", "--output-dir", str(tmp_path), "--matchup-id", "A", "--matchup-id", "A"]
    )
    assert result.exit_code == 0
    assert "duplicate matchup id 'A'" in result.output
    assert _report(tmp_path)["matchup_ids"] == ["A"]


def test_sim_serve_runs_until_stopped_and_generates_a_token(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import time
    import urllib.request

    from recovery_plugin.sim.harness import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "INTERNAL_JOB_TOKEN"}
    argv = [sys.executable, "-m", "recovery_plugin", "sim", "serve", "--port", str(port)]
    # A runner started in the background by a shell ignores SIGINT, and so would the server it
    # starts (a program inherits an ignored signal): give it the interactive default.
    inherited = signal.getsignal(signal.SIGINT)
    if inherited == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            [*argv, "--data-dir", str(tmp_path / "data")],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    finally:
        if inherited == signal.SIG_IGN:
            signal.signal(signal.SIGINT, inherited)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/health", timeout=1
                ) as response:
                    assert json.loads(response.read()) == {"status": "ok"}
                    break
            except OSError:
                assert time.monotonic() < deadline, "the simulated service did not come up"
                time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
            pytest.fail(f"sim serve did not stop on SIGINT within 30 s; stderr: {stderr}")
    assert proc.returncode in (0, 130)
    assert "generated token sim-" in stderr
    assert "Traceback" not in stderr


def test_an_error_line_never_shows_a_secret_from_the_environment(tmp_path: Path) -> None:
    secret = "s3cr3t-token-value-42"
    result = CliRunner().invoke(
        cli,
        ["run", "--matchup-id", secret + "\x00"],
        env={"INTERNAL_JOB_TOKEN": secret},
    )
    assert result.exit_code == 2
    assert "error:" in result.output
    assert secret not in result.output
