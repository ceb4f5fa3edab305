"""The console summary, ``show`` (text, Markdown, HTML) and the GitHub step summary show the batches of
a scheduled apply, their verdicts, the checks that failed, where the run stopped and why, and the
ids left to do; and who confirmed it. Through the real CLI against the simulated service."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.cli import cli
from recovery_plugin.render.production import SHOWN_IDS, batch_text
from recovery_plugin.sim.data import MATCHUP_IDS

FAST = {"reprocess": {"backoff": 0.01}}


def _apply(config: Path, ids: list[str], *flags: str) -> list[str]:
    argv = ["run", "--mode", "apply", "--yes", "--config", str(config), "--jobs", "1", *flags]
    for matchup_id in ids:
        argv += ["--matchup-id", matchup_id]
    return argv


def _show(report_path: str, *fmt: str) -> str:
    result = CliRunner().invoke(cli, ["show", report_path, *fmt])
    assert result.exit_code == 0, result.output
    return result.output


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _text_only(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_a_failed_canary_shows_where_it_stopped_everywhere(
    recovery_sim: RecoverySim, run_bundle: RunBundle, tmp_path: Path
) -> None:
    bad, *rest = MATCHUP_IDS[:3]
    sim = recovery_sim(faults={"reprocess": {"fail_ids": [bad]}}, steps=FAST)

    result = run_bundle(
        *_apply(sim.config_path, [bad, *rest], "--canary", "1", "--max-failures", "10")
    )

    assert result.exit_code == 1, result.output
    stopped = "stopped after batch 1: canary batch 1 failed (1 reprocess step(s) failed)"
    left = f"2 id(s) left to do: {rest[0]}, {rest[1]}"
    # The console summary, printed at the end of the run.
    summary = result.output[result.output.index("recovery-bundle apply: failed") :]
    assert "  Batches (--canary 1 --max-failures 10)" in summary
    assert re.search(r"canary 1/2 +1 id\(s\) +failed +0 of 1 reprocessed; checks: ", summary)
    assert re.search(r"batch 2/2 +2 id\(s\) +skipped +canary batch 1 failed", summary)
    assert stopped in summary and left in summary
    assert summary.index("Batches") < summary.index(stopped) < summary.index("report: ")

    report_path = str(result.report_path)
    text = _show(report_path)
    assert "\nBatches (--canary 1 --max-failures 10)\n" in text
    assert f"  {stopped}\n  {left}\n" in text
    markdown = _show(report_path, "--format", "markdown")
    assert "### Batches: `--canary 1 --max-failures 10`" in markdown
    assert "| canary 1/2 | 1 | failed | 0 of 1 reprocessed; checks: " in markdown
    assert f"**{stopped}.** {_md(left)}" in markdown  # ids hold "|": escaped for tables
    page = _show(report_path, "--format", "html")
    assert '<table id="batches">' in page
    assert f"{stopped}. {left}" in _text_only(page)


def test_failed_checks_of_a_batch_are_named(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    good, other = MATCHUP_IDS[:2]
    sim = recovery_sim(steps=FAST)
    sim.write_runbook(
        endpoints=[{"name": "matchup", "path": "/api/v1/matchups/{matchup_id}",
                    "expect_json": {"matchup_id": "not-{matchup_id}"}}]
    )  # fmt: skip

    result = run_bundle(*_apply(sim.config_path, [good, other], "--canary", "1"))

    assert result.exit_code == 1, result.output
    canary = result.report["batches"]["items"][0]
    (check,) = canary["failed_checks"]
    assert good in check and "matchup" in check
    assert result.report["batches"]["items"][1]["failed_checks"] == []
    first_line = check.splitlines()[0]
    assert f"failed check: {first_line}" in result.output
    assert "stopped after batch 1: canary batch 1 failed (its checks failed)" in result.output
    assert f"1 id(s) left to do: {other}" in result.output
    text = _show(str(result.report_path))
    assert f"failed check: {first_line}" in text
    markdown = _show(str(result.report_path), "--format", "markdown")
    assert "| canary 1/2 | 1 | failed |" in markdown and _md(good) in markdown


def test_batches_that_all_pass_stop_nowhere(
    recovery_sim: RecoverySim, run_bundle: RunBundle, assert_valid_report: Any
) -> None:
    ids = list(MATCHUP_IDS[:3])
    sim = recovery_sim(steps=FAST)

    result = run_bundle(*_apply(sim.config_path, ids, "--canary", "1", "--batch-size", "1"))

    assert result.exit_code == 0, result.output
    assert_valid_report(result.report)
    for label in ("canary 1/3", "batch 2/3", "batch 3/3"):
        assert re.search(rf"{label} +1 id\(s\) +passed +1 of 1 reprocessed", result.output)
    assert "stopped" not in result.output and "left to do" not in result.output
    assert "left to do" not in _show(str(result.report_path))


def test_the_max_failures_ceiling_alone_shows_its_stop(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    first_bad, second_bad, *rest = MATCHUP_IDS[:5]
    sim = recovery_sim(faults={"reprocess": {"fail_ids": [first_bad, second_bad]}}, steps=FAST)

    result = run_bundle(
        *_apply(sim.config_path, [first_bad, second_bad, *rest], "--max-failures", "1")
    )

    assert result.exit_code == 1, result.output
    assert result.report["batches"] is None
    stopped = "stopped: --max-failures 1 crossed (2 reprocess step(s) failed, 1 allowed)"
    left = f"3 id(s) left to do: {', '.join(rest)}"
    assert "  Batches (--max-failures 1)" in result.output
    assert stopped in result.output and left in result.output
    text = _show(str(result.report_path))
    assert f"  {stopped}\n  {left}\n" in text
    markdown = _show(str(result.report_path), "--format", "markdown")
    assert f"**{stopped}.** {_md(left)}" in markdown
    page = _show(str(result.report_path), "--format", "html")
    assert '<table id="batches">' not in page  # no batches, only the stop
    assert f"{stopped}. {left}" in _text_only(page)


def test_a_dry_run_shows_the_planned_batches(
    recovery_sim: RecoverySim, cli_runner: CliRunner, tmp_path: Path
) -> None:
    ids = list(MATCHUP_IDS[:3])
    sim = recovery_sim()
    argv = ["run", "--config", str(sim.config_path), "--canary", "1", "--batch-size", "50%"]
    argv += ["--output-dir", str(tmp_path / "runs")]

    result = cli_runner.invoke(cli, [*argv, *[a for m in ids for a in ("--matchup-id", m)]])

    assert result.exit_code == 0, result.output
    assert "  Batches (--canary 1 --batch-size 50%)" in result.output
    # 50% of the 3 ids, rounded up: 2 in the batch after the canary.
    assert re.search(r"canary 1/2 +1 id\(s\) +planned\n", result.output)
    assert re.search(r"batch 2/2 +2 id\(s\) +planned\n", result.output)
    assert "stopped" not in result.output


def test_the_github_step_summary_has_the_batches_and_the_confirmation(
    recovery_sim: RecoverySim, tmp_path: Path
) -> None:
    bad, other = MATCHUP_IDS[:2]
    sim = recovery_sim(faults={"reprocess": {"fail_ids": [bad]}}, steps=FAST)
    summary = tmp_path / "summary.md"
    argv = _apply(sim.config_path, [bad, other], "--canary", "1")
    env = {k: v for k, v in os.environ.items() if k != "CI"}

    proc = subprocess.run(
        [sys.executable, "-m", "recovery_plugin", *argv, "--output-dir", str(tmp_path / "runs")],
        cwd=tmp_path,
        env={**env, "GITHUB_STEP_SUMMARY": str(summary)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert proc.returncode == 1, proc.stdout + proc.stderr
    markdown = summary.read_text(encoding="utf-8")
    assert "### Batches: `--canary 1`" in markdown
    assert "**stopped after batch 1: an earlier step failed" in markdown
    assert f"1 id(s) left to do: {_md(other)}" in markdown
    assert "- confirmed by --yes: user " in markdown


def test_many_ids_left_are_counted_not_listed() -> None:
    left = [f"id-{n}" for n in range(SHOWN_IDS + 4)]
    report = {
        "batches": {
            "canary": "1",
            "batch_size": None,
            "max_failures": None,
            "stopped_after": 1,
            "stop_reason": "skipped: canary batch 1 failed (its checks failed)",
            "ids_left": left,
            "items": [
                {"index": 1, "kind": "canary", "ids": ["x"], "verdict": "failed",
                 "summary": "1 of 1 reprocessed", "failed_checks": [f"c{n}" for n in range(7)]},
                {"index": 2, "kind": "batch", "ids": left, "verdict": "skipped",
                 "summary": "skipped: canary batch 1 failed (its checks failed)"},
            ],
        }
    }  # fmt: skip

    lines = batch_text(report)

    assert lines[-1] == f"  {len(left)} id(s) left to do: {', '.join(left[:SHOWN_IDS])} (+4 more)"
    assert sum("failed check: c" in line for line in lines) == 5
    assert any(line.endswith("... and 2 more failed check(s)") for line in lines)
    # A report written before failed_checks existed renders all the same.
    assert any("batch 2/2" in line and "skipped" in line for line in lines)
