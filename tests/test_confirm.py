"""Confirm before mutating: the prompt on a real pseudo-terminal, ``--yes``, and the policy."""

from __future__ import annotations

import html
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.cli import cli
from recovery_plugin.errors import ConfigError
from recovery_plugin.pytest_plugin.fixtures import LAUNCHER_ENV
from recovery_plugin.resolve.context import RunRequest, resolve_run
from recovery_plugin.run.confirm import Prompt, confirm_run, is_loopback
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID
from recovery_plugin.sim.service_runbook import INGEST_STEP_COMMAND

REMOTE = "https://polls.example.invalid"
PROMPT_END = b"(anything else stops): "
READ_REPORT = [
    "{python}",
    "-c",
    "import json, subprocess, sys; r = json.load(open(sys.argv[1], encoding='utf-8'));"
    " json.dump(dict(status=r['status'], confirmation=r['confirmation']), open(sys.argv[2], 'w'));"
    " sys.exit(subprocess.call([sys.executable, '-m', 'recovery_plugin.sim.ingest', *sys.argv[3:]]))",
    "{run_dir}/recovery_bundle_report.json",
    "{run_dir}/seen.json",
    *INGEST_STEP_COMMAND.split()[3:],
]
"""The ingest step, first copying the confirmation from the report as it stands mid-run."""


def _env() -> dict[str, str]:
    """The test process's environment without the launcher's variables and without ``CI``."""
    return {k: v for k, v in os.environ.items() if k not in (*LAUNCHER_ENV, "CI")}


def _read_until(master: int, marker: bytes, deadline: float) -> bytes:
    seen = b""
    while marker not in seen:
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {marker!r} on the terminal; it showed: {seen!r}")
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        seen += chunk
    return seen


def _on_pty(argv: list[str], answer: str, cwd: Path) -> tuple[int, str, str]:
    """Run ``recovery-bundle argv`` with a pseudo-terminal as stdin and stdout, answer its
    prompt; (exit code, what the terminal showed, stderr)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "recovery_plugin", *argv],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=_env(),
    )
    os.close(slave)
    try:
        deadline = time.monotonic() + 60
        shown = _read_until(master, PROMPT_END, deadline)
        os.write(master, answer.encode() + b"\n")
        shown += _read_until(master, b"\x00never", time.monotonic() + 120)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return proc.returncode, shown.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")


def _apply_args(config: Path, output_dir: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--mode",
        "apply",
        "--config",
        str(config),
        "--matchup-id",
        DEFAULT_MATCHUP_ID,
        "--output-dir",
        str(output_dir),
        *extra,
    ]


def _reports(output_dir: Path) -> list[dict[str, Any]]:
    return [
        json.loads(path.read_text(encoding="utf-8"))
        for path in output_dir.glob("*/recovery_bundle_report.json")
    ]


def test_typing_yes_on_the_terminal_runs_the_apply_and_is_recorded(
    recovery_sim: RecoverySim, tmp_path: Path
) -> None:
    sim = recovery_sim(confirm="always", steps={"ingest": {"command": READ_REPORT}})
    output_dir = tmp_path / "runs"

    code, shown, stderr = _on_pty(_apply_args(sim.config_path, output_dir), "yes", tmp_path)

    assert code == 0, shown + stderr
    assert f"recovery-bundle apply against {sim.base_url}" in shown
    assert "1 matchup id(s)" in shown
    assert "- ingest: $ " in shown and "seen.json" in shown  # the argv, as it will run
    assert f"- reprocess [{DEFAULT_MATCHUP_ID}]: $ " in shown
    assert "Type 'yes' to run these steps" in shown
    (report,) = _reports(output_dir)
    assert report["status"] == "success"
    confirmation = report["confirmation"]
    assert confirmation["by"] == "tty"
    assert confirmation["user"] and confirmation["host"] and confirmation["at"]
    # Already in the report the ingest step read while the run was going on.
    seen = json.loads((Path(report["run_dir"]) / "seen.json").read_text(encoding="utf-8"))
    assert seen == {"status": "running", "confirmation": confirmation}
    line = (
        f"confirmed by tty (typed at a terminal): user {confirmation['user']}"
        f" on host {confirmation['host']} at {confirmation['at']}"
    )
    for fmt in ("text", "markdown", "html"):
        shown_report = CliRunner().invoke(cli, ["show", report["run_dir"], "--format", fmt])
        assert shown_report.exit_code == 0, shown_report.output
        assert line in html.unescape(shown_report.output), fmt


def test_any_other_answer_stops_with_one_line_and_leaves_nothing(
    recovery_sim: RecoverySim, tmp_path: Path
) -> None:
    sim = recovery_sim(confirm="always")
    output_dir = tmp_path / "runs"

    code, shown, stderr = _on_pty(_apply_args(sim.config_path, output_dir), "y", tmp_path)

    assert code == 2, shown + stderr
    assert stderr.strip().splitlines() == [
        "recovery-bundle: error: apply not confirmed: expected 'yes', got 'y'; nothing was run"
    ]
    assert list(output_dir.iterdir()) == []  # no run directory, no lock file
    assert "Traceback" not in shown + stderr


def test_a_skipped_step_is_shown_as_skipped_in_the_plan(
    recovery_sim: RecoverySim, tmp_path: Path
) -> None:
    sim = recovery_sim(confirm="always")
    args = _apply_args(sim.config_path, tmp_path / "runs", "--skip-ingest")

    code, shown, _ = _on_pty(args, "no", tmp_path)

    assert code == 2
    assert "- ingest: skipped (skipped by --skip-ingest)" in shown


def _remote_context(tmp_path: Path, **changes: Any) -> Any:
    request = RunRequest(
        mode=changes.pop("mode", "apply"),
        matchup_ids=[DEFAULT_MATCHUP_ID],
        flags={"api_base": REMOTE, "output_dir": str(tmp_path / "runs")},
        cwd=tmp_path,
        environ=changes.pop("environ", {}),
        no_preflight=True,  # the real service's scripts are not here; confirmation comes after
    )
    return resolve_run(request)


def test_a_remote_target_wants_its_host_name_typed(tmp_path: Path) -> None:
    master, slave = os.openpty()
    with os.fdopen(slave, "r", closefd=True) as stdin, os.fdopen(os.dup(slave), "w") as out:
        prompt = Prompt(stdin, out)
        os.write(master, b"yes\n")
        with pytest.raises(ConfigError, match=r"expected 'polls\.example\.invalid', got 'yes'"):
            confirm_run(_remote_context(tmp_path), prompt=prompt)
        os.write(master, b"polls.example.invalid\n")
        confirmation = confirm_run(_remote_context(tmp_path), prompt=prompt)
    os.close(master)
    assert confirmation is not None and confirmation.by == "tty"


def test_without_a_terminal_a_remote_apply_needs_yes(cli_runner: CliRunner, tmp_path: Path) -> None:
    output_dir = tmp_path / "runs"
    args = ["run", "--mode", "apply", "--api-base", REMOTE, "--matchup-id", DEFAULT_MATCHUP_ID]
    args += ["--output-dir", str(output_dir), "--no-preflight"]

    result = cli_runner.invoke(cli, args)

    assert result.exit_code == 2, result.output
    *preflight, line = result.output.strip().splitlines()
    assert all(note.startswith("preflight: ") for note in preflight)  # overridden, still shown
    assert line.startswith(f"recovery-bundle: error: apply against {REMOTE} needs confirmation")
    assert "pass --yes to confirm" in line
    assert 'confirm = "non-loopback" (the default)' in line
    assert list(output_dir.iterdir()) == []


def test_a_dry_run_against_a_remote_target_asks_nothing(
    cli_runner: CliRunner, tmp_path: Path
) -> None:
    output_dir = tmp_path / "runs"
    args = ["run", "--api-base", REMOTE, "--matchup-id", DEFAULT_MATCHUP_ID]

    result = cli_runner.invoke(cli, [*args, "--output-dir", str(output_dir)])

    assert result.exit_code == 0, result.output
    (report,) = _reports(output_dir)
    assert report["confirmation"] is None


def test_a_pipe_as_stdin_refuses_and_yes_confirms(
    recovery_sim: RecoverySim, tmp_path: Path
) -> None:
    sim = recovery_sim(confirm="always")
    output_dir = tmp_path / "runs"
    argv = [sys.executable, "-m", "recovery_plugin", *_apply_args(sim.config_path, output_dir)]

    def launch(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, *extra],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=_env(),
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    refused = launch()
    assert refused.returncode == 2, refused.stdout + refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert "pass --yes to confirm" in line and f"in {sim.config_path}" in line
    assert list(output_dir.iterdir()) == []

    confirmed = launch("--yes")
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    (report,) = _reports(output_dir)
    assert report["confirmation"]["by"] == "--yes"


def test_ci_counts_as_no_terminal(recovery_sim: RecoverySim, run_bundle: RunBundle) -> None:
    sim = recovery_sim(confirm="always")
    args = ("run", "--mode", "apply", "--config", str(sim.config_path))

    result = run_bundle(*args, "--matchup-id", DEFAULT_MATCHUP_ID, env={"CI": "true"})

    assert result.exit_code == 2
    assert "pass --yes to confirm" in result.stderr


def test_a_loopback_target_needs_no_confirmation_by_default(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim()
    args = ("run", "--mode", "apply", "--config", str(sim.config_path))

    result = run_bundle(*args, "--matchup-id", DEFAULT_MATCHUP_ID, env={"CI": "true"})

    assert result.exit_code == 0, result.output
    assert result.report["confirmation"]["by"] == "config"


def test_confirm_never_lets_a_remote_apply_start_without_asking(tmp_path: Path) -> None:
    config = tmp_path / "recovery.toml"
    config.write_text('confirm = "never"\n', encoding="utf-8")
    context = _remote_context(tmp_path)
    assert context.runbook.confirm == "never"

    devnull = Path(os.devnull)
    with devnull.open() as stdin, devnull.open("w") as out:
        confirmation = confirm_run(context, prompt=Prompt(stdin, out))

    assert confirmation is not None and confirmation.by == "config"


def test_a_bad_confirm_value_is_a_config_error_naming_the_key(
    cli_runner: CliRunner, tmp_path: Path
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('confirm = "sometimes"\n', encoding="utf-8")

    result = cli_runner.invoke(cli, ["run", "--config", str(config)])

    assert result.exit_code == 2
    assert result.output.strip() == (
        f"recovery-bundle: error: {config}: confirm: must be one of 'always', 'non-loopback',"
        " 'never', got 'sometimes'"
    )


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8100", True),
        ("http://127.9.9.9", True),
        ("http://[::1]:8100", True),
        ("http://localhost:8100", True),
        ("http://api.localhost", True),
        ("http://LOCALHOST.", True),
        ("https://polls.example.com", False),
        ("http://10.0.0.5:8100", False),
        ("http://localhost.example.com", False),
        ("http://user:pw@127.0.0.1", True),
    ],
)
def test_loopback_is_decided_from_the_url_alone(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback
