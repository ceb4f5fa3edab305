"""Inputs refused before anything runs: output paths, resumed reports, id lists (issue 9)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from recovery_plugin.cli import cli


def test_junit_xml_under_a_file_is_refused_before_anything_runs(
    cli_runner: CliRunner, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    out = tmp_path / "out"
    result = cli_runner.invoke(
        cli,
        [
            "verify",
            "--api-base",
            "http://127.0.0.1:9",
            "--output-dir",
            str(out),
            "--junit-xml",
            str(blocker / "junit.xml"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "--junit-xml" in result.output and "a-file" in result.output
    assert not list(out.glob("*/recovery_bundle_report.json"))


def test_junit_xml_in_a_directory_that_cannot_be_created_is_refused(
    cli_runner: CliRunner, tmp_path: Path
) -> None:
    # /proc takes no new directories, whoever runs the test (root included).
    result = cli_runner.invoke(
        cli,
        [
            "verify",
            "--api-base",
            "http://127.0.0.1:9",
            "--output-dir",
            str(tmp_path / "out"),
            "--junit-xml",
            "/proc/self/no-such-dir/junit.xml",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "--junit-xml" in result.output
