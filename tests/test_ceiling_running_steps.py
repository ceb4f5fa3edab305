"""``--max-failures``: once the ceiling is crossed, a reprocess step already running finishes (it is
not stopped), and only the steps not yet started are ``skipped`` (through the real CLI)."""

from __future__ import annotations

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.sim.data import MATCHUP_IDS
from recovery_plugin.sim.service_runbook import REPROCESS_STEP_COMMAND

# The step for the id named first waits until the run's report shows the other id's step failed
# (so the ceiling is crossed while it runs), then reprocesses as usual. No fixed sleep: it polls.
_WAIT_THEN_REPROCESS = (
    "import json, subprocess, sys, time\n"
    "report, waiter, other, argv = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]\n"
    "matchup_id = argv[argv.index('--matchup-id') + 1]\n"
    "deadline = time.monotonic() + 120\n"
    "while matchup_id == waiter and time.monotonic() < deadline:\n"
    "    try:\n"
    "        steps = json.load(open(report, encoding='utf-8'))['steps']\n"
    "    except (OSError, ValueError):\n"
    "        steps = []\n"
    "    if any(s.get('matchup_id') == other and s['status'] == 'failed' for s in steps):\n"
    "        break\n"
    "    time.sleep(0.05)\n"
    "sys.exit(subprocess.call([sys.executable, *argv[1:]]))\n"
)


def test_a_step_running_when_the_ceiling_is_crossed_finishes(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    bad, running, *later = MATCHUP_IDS[:5]
    command = [
        "{python}",
        "-c",
        _WAIT_THEN_REPROCESS,
        "{run_dir}/recovery_bundle_report.json",
        running,
        bad,
        *REPROCESS_STEP_COMMAND.split(),
    ]
    sim = recovery_sim(
        faults={"reprocess": {"fail_ids": [bad]}},
        steps={"reprocess": {"command": command, "backoff": 0.01, "timeout": 180}},
    )
    argv = ["run", "--mode", "apply", "--config", str(sim.config_path), "--jobs", "2"]
    argv += ["--max-failures", "0"]
    for matchup_id in [bad, running, *later]:
        argv += ["--matchup-id", matchup_id]

    result = run_bundle(*argv)

    assert result.exit_code == 1, result.output
    assert result.step("reprocess", bad)["status"] == "failed"
    finished = result.step("reprocess", running)
    assert (finished["status"], finished["exit_code"]) == ("success", 0)  # not stopped
    reason = "skipped: --max-failures 0 crossed (1 reprocess step(s) failed, 0 allowed)"
    for matchup_id in later:
        step = result.step("reprocess", matchup_id)
        assert (step["status"], step["error"], step["attempts"]) == ("skipped", reason, [])
    stopped = "stopped: --max-failures 0 crossed (1 reprocess step(s) failed, 0 allowed)"
    assert stopped in result.output
    assert f"{len(later)} id(s) left to do: {', '.join(later)}" in result.output
