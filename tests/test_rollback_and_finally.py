"""A failed step's ``on_failure`` rolls it back; ``[steps.finally]`` always runs (through the real CLI)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.names import REPORT_NAME
from recovery_plugin.sim.data import MATCHUP_IDS
from recovery_plugin.sim.faults import hang_pid_path

ReportCheck = Callable[[dict[str, Any]], None]
# Appends its last argument to the file named before it: how often, and for which id, it ran.
_APPEND = "import sys; open(sys.argv[1], 'a', encoding='utf-8').write(sys.argv[2] + '\\n')"
ROLLBACK = {"command": ["{python}", "-c", _APPEND, "{run_dir}/rolled-back.txt", "{matchup_id}"]}
FINALLY = {"command": ["{python}", "-c", _APPEND, "{run_dir}/finally.txt", "{mode}"], "timeout": 30}
FAST = {"backoff": 0.01, "kill_grace": 0.3}


def _apply(config: Path, *ids: str) -> list[str]:
    argv = ["run", "--mode", "apply", "--config", str(config)]
    for matchup_id in ids:
        argv += ["--matchup-id", matchup_id]
    return argv


def test_a_failed_reprocess_is_rolled_back_with_its_matchup_id(
    recovery_sim: RecoverySim, run_bundle: RunBundle, assert_valid_report: ReportCheck
) -> None:
    good, bad = MATCHUP_IDS[:2]
    sim = recovery_sim(
        faults={"reprocess": {"fail_ids": [bad]}},
        steps={"reprocess": {**FAST, "on_failure": ROLLBACK}},
    )

    result = run_bundle(*_apply(sim.config_path, good, bad), "--continue-on-error")

    assert result.exit_code == 1, result.output
    assert_valid_report(result.report)
    assert result.run_dir is not None
    assert (result.run_dir / "rolled-back.txt").read_text(encoding="utf-8") == f"{bad}\n"
    (rollback,) = result.steps("rollback")
    assert rollback["matchup_id"] == bad
    assert rollback["rollback_of"] == "reprocess"
    assert rollback["status"] == "success"
    assert rollback["command"][-1] == bad
    names = [(s["name"], s.get("matchup_id")) for s in result.report["steps"]]
    assert names.index(("rollback", bad)) == names.index(("reprocess", bad)) + 1
    assert f"rolled back reprocess [{bad}]: succeeded" in "\n".join(result.checklist)


def test_a_failed_rollback_says_so(recovery_sim: RecoverySim, run_bundle: RunBundle) -> None:
    bad = MATCHUP_IDS[0]
    failing = {"command": ["{python}", "-c", "raise SystemExit(3)"], "timeout": 30}
    sim = recovery_sim(
        faults={"reprocess": {"fail_ids": [bad]}},
        steps={"reprocess": {**FAST, "on_failure": failing}},
    )

    result = run_bundle(*_apply(sim.config_path, bad))

    assert result.exit_code == 1, result.output
    rollback = result.step("rollback", bad)
    assert (rollback["status"], rollback["exit_code"]) == ("failed", 3)
    assert f"rollback of reprocess [{bad}] failed, exit 3" in "\n".join(result.checklist)


def test_no_rollback_runs_when_the_step_succeeds(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim(steps={"reprocess": {"on_failure": ROLLBACK}})

    result = run_bundle(*_apply(sim.config_path, MATCHUP_IDS[0]))

    assert result.exit_code == 0, result.output
    assert result.steps("rollback") == []
    assert result.run_dir is not None and not (result.run_dir / "rolled-back.txt").exists()


def test_dry_run_plans_rollback_and_finally(
    recovery_sim: RecoverySim, run_bundle: RunBundle, assert_valid_report: ReportCheck
) -> None:
    matchup_id = MATCHUP_IDS[0]
    sim = recovery_sim(steps={"reprocess": {"on_failure": ROLLBACK}, "finally": FINALLY})

    result = run_bundle("run", "--config", str(sim.config_path), "--matchup-id", matchup_id)

    assert result.exit_code == 0, result.output
    assert_valid_report(result.report)
    rollback = result.step("rollback", matchup_id)
    assert (rollback["status"], rollback["rollback_of"]) == ("planned", "reprocess")
    assert rollback["command"][-1] == matchup_id
    final = result.step("finally")
    assert final["status"] == "planned"
    assert final["command"][-1] == "dry-run"
    assert result.report["steps"][-1]["name"] == "finally"


def test_finally_runs_after_a_successful_apply(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim(steps={"finally": FINALLY})

    result = run_bundle(*_apply(sim.config_path, MATCHUP_IDS[0]))

    assert result.exit_code == 0, result.output
    assert result.step("finally")["status"] == "success"
    assert result.run_dir is not None
    assert (result.run_dir / "finally.txt").read_text(encoding="utf-8") == "apply\n"


def test_finally_runs_after_a_failed_apply_and_a_failed_finally_fails_the_run(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim(faults={"ingest": {"always_fail": True}}, steps={"finally": FINALLY})

    result = run_bundle(*_apply(sim.config_path, MATCHUP_IDS[0]))

    assert result.exit_code == 1, result.output
    assert result.step("ingest")["status"] == "failed"
    assert result.step("finally")["status"] == "success"
    assert result.run_dir is not None and (result.run_dir / "finally.txt").is_file()

    sim.write_runbook(steps={"finally": {"command": ["{python}", "-c", "raise SystemExit(4)"]}})
    result = run_bundle(*_apply(sim.config_path, MATCHUP_IDS[0]), "--skip-ingest")
    assert result.exit_code == 1, result.output
    assert result.report["status"] == "failed"
    assert "finally failed, exit 4: the clean-up did not complete" in "\n".join(result.checklist)


def test_finally_runs_when_the_run_is_interrupted(
    recovery_sim: RecoverySim, tmp_path: Path, assert_valid_report: ReportCheck
) -> None:
    matchup_id = MATCHUP_IDS[0]
    sim = recovery_sim(
        faults={"reprocess": {"hang_ids": [matchup_id]}},
        steps={"reprocess": {**FAST, "timeout": 60}, "finally": FINALLY},
    )
    out = tmp_path / "runs"
    argv = [*_apply(sim.config_path, matchup_id), "--output-dir", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "recovery_plugin", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 30
        while not hang_pid_path(sim.faults_path, "reprocess").is_file():
            assert time.monotonic() < deadline, "the reprocess never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    (report_path,) = out.glob(f"*/{REPORT_NAME}")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert_valid_report(report)
    assert report["status"] == "interrupted"
    statuses = {(s["name"], s.get("matchup_id")): s["status"] for s in report["steps"]}
    assert statuses[("reprocess", matchup_id)] == "interrupted"
    assert statuses[("finally", None)] == "success"
    assert (report_path.parent / "finally.txt").read_text(encoding="utf-8") == "apply\n"


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            {"reprocess": {"on_failure": {"command": ["undo"], "timeout": 0}}},
            "steps.reprocess.on_failure.timeout: must be greater than 0",
        ),
        (
            {"reprocess": {"on_failure": {"timeout": 5}}},
            "steps.reprocess.on_failure.command: is required",
        ),
        (
            {"reprocess": {"on_failure": {"command": ["undo", "{nope}"]}}},
            "steps.reprocess.on_failure.command[1]: unknown placeholder {nope}",
        ),
        ({"finally": {"timeout": 5}}, "steps.finally.command: is required"),
        (
            {"finally": {"command": ["cleanup", "{matchup_id}"]}},
            "steps.finally.command uses {matchup_id}, which has no value here",
        ),
        ({"always": {"command": ["x"]}}, "steps.always: unknown key"),
    ],
    ids=["timeout", "no-command", "placeholder", "finally-no-command", "finally-id", "unknown"],
)
def test_bad_rollback_and_finally_config_is_a_one_line_error(
    steps: dict[str, Any], message: str, recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim(steps=steps)

    result = run_bundle(*_apply(sim.config_path, MATCHUP_IDS[0]))

    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.report_path is None
