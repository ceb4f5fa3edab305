"""An apply SIGKILLed while a rollback (``on_failure``) or ``[steps.finally]`` runs: the output
directory stays locked by the handler's process group, as for any step."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from test_process_lock import _stop_group
from test_reliability import FAST_STEP, Harness, _apply_args, _wait_for

from conftest import is_gone
from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.run.lock import LOCK_NAME
from recovery_plugin.sim.data import MATCHUP_IDS

# Writes its pid to the file named by its argument, then runs far longer than the test.
_SLOW = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"


def _handler(pid_file: str) -> dict[str, object]:
    return {"command": ["{python}", "-c", _SLOW, pid_file], "timeout": 300}


@pytest.mark.parametrize("handler", ["rollback", "finally"])
def test_a_killed_applys_running_handler_keeps_the_output_dir_locked(
    recovery_sim: RecoverySim, run_bundle: RunBundle, tmp_path: Path, handler: str
) -> None:
    matchup_id = MATCHUP_IDS[0]
    pid_file = tmp_path / f"{handler}.pid"
    if handler == "rollback":
        sim = recovery_sim(
            faults={"reprocess": {"fail_ids": [matchup_id]}},
            steps={"reprocess": {**FAST_STEP, "on_failure": _handler(str(pid_file))}},
        )
    else:
        sim = recovery_sim(steps={"reprocess": FAST_STEP, "finally": _handler(str(pid_file))})
    extra = ["--skip-ingest", "--skip-capture"]
    out = tmp_path / "runs"
    with Harness(tmp_path, *_apply_args(sim, out, matchup_id), *extra) as first:
        _wait_for(
            f"the {handler} to start", lambda: pid_file.is_file() and bool(pid_file.read_text())
        )
        pid = int(pid_file.read_text())
        _wait_for(
            f"the lock to list the {handler}'s group",
            lambda: (
                os.getpgid(pid) in json.loads((out / LOCK_NAME).read_text())["step_process_groups"]
            ),
        )
        pgid = os.getpgid(pid)
        first.proc.send_signal(signal.SIGKILL)
        first.wait()
    try:
        assert not is_gone(pid), f"the {handler} died with its launcher: nothing to prove"

        second = run_bundle(*_apply_args(sim, out, matchup_id), *extra, timeout=30)

        assert second.exit_code == 75, second.output
        line = second.stderr.strip()
        assert "its steps are still running" in line, line
        assert f"process group(s) {pgid}" in line, line
    finally:
        _stop_group(pgid)
