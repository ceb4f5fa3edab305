"""Rollbacks when things go wrong (through the real CLI, against the simulated service): a step
that times out is rolled back; a rollback that times out or cannot start is a step of its own that
failed, the run fails, and the checklist and ``show`` say the change may be half-applied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from click.testing import CliRunner

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.cli import cli
from recovery_plugin.sim.data import MATCHUP_IDS

ReportCheck = Callable[[dict[str, Any]], None]
FAST = {"backoff": 0.01, "kill_grace": 0.3}
_APPEND = "import sys; open(sys.argv[1], 'a', encoding='utf-8').write(sys.argv[2] + '\\n')"
ROLLBACK = {"command": ["{python}", "-c", _APPEND, "{run_dir}/rolled-back.txt", "{matchup_id}"]}


def _apply(config: Any, matchup_id: str) -> list[str]:
    return ["run", "--mode", "apply", "--config", str(config), "--matchup-id", matchup_id]


def test_a_step_that_times_out_is_rolled_back(
    recovery_sim: RecoverySim, run_bundle: RunBundle, assert_valid_report: ReportCheck
) -> None:
    slow = MATCHUP_IDS[0]
    sim = recovery_sim(
        faults={"reprocess": {"hang_ids": [slow]}},
        steps={"reprocess": {**FAST, "timeout": 1, "on_failure": ROLLBACK}},
    )

    result = run_bundle(*_apply(sim.config_path, slow))

    assert result.exit_code == 1, result.output
    assert_valid_report(result.report)
    assert result.step("reprocess", slow)["status"] == "timeout"
    rollback = result.step("rollback", slow)
    assert rollback["status"] == "success" and rollback["rollback_of"] == "reprocess"
    assert result.run_dir is not None
    assert (result.run_dir / "rolled-back.txt").read_text(encoding="utf-8") == f"{slow}\n"
    assert f"rolled back reprocess [{slow}]: succeeded" in "\n".join(result.checklist)


def test_a_rollback_that_times_out_says_the_change_may_be_half_applied(
    recovery_sim: RecoverySim, run_bundle: RunBundle, assert_valid_report: ReportCheck
) -> None:
    bad = MATCHUP_IDS[0]
    hanging = {"command": ["{python}", "-c", "import time; time.sleep(120)"], "timeout": 1}
    sim = recovery_sim(
        faults={"reprocess": {"fail_ids": [bad]}},
        steps={"reprocess": {**FAST, "on_failure": hanging}},
    )

    result = run_bundle(*_apply(sim.config_path, bad))

    assert result.exit_code == 1, result.output
    assert_valid_report(result.report)
    assert result.step("rollback", bad)["status"] == "timeout"
    (line,) = [c for c in result.checklist if c.startswith(f"rollback of reprocess [{bad}]")]
    assert line.startswith(f"rollback of reprocess [{bad}] timeout")
    assert "the change may be half-applied; check it by hand" in line
    shown = CliRunner().invoke(cli, ["show", str(result.report_path)])
    assert shown.exit_code == 0, shown.output
    assert f"rollback [{bad}]" in shown.output and line in shown.output


def test_a_rollback_that_cannot_start_is_refused_first_then_a_failed_step(
    recovery_sim: RecoverySim, run_bundle: RunBundle, assert_valid_report: ReportCheck
) -> None:
    bad = MATCHUP_IDS[0]
    missing = {"command": ["/nonexistent/restore_matchup", "{matchup_id}"], "timeout": 30}
    sim = recovery_sim(
        faults={"reprocess": {"fail_ids": [bad]}},
        steps={"reprocess": {**FAST, "on_failure": missing}},
    )

    refused = run_bundle(*_apply(sim.config_path, bad))
    assert refused.exit_code == 2, refused.output  # the preflight sees it before anything runs
    (line,) = refused.stderr.strip().splitlines()
    assert "preflight failed" in line and "/nonexistent/restore_matchup not found" in line
    assert "steps.reprocess.on_failure: executable" in line  # the config key the operator edits

    result = run_bundle(*_apply(sim.config_path, bad), "--no-preflight")

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert_valid_report(result.report)
    rollback = result.step("rollback", bad)
    assert rollback["status"] == "failed"
    assert "/nonexistent/restore_matchup" in (rollback["error"] or "")
    assert any(
        c.startswith(f"rollback of reprocess [{bad}] failed") and "half-applied" in c
        for c in result.checklist
    )
