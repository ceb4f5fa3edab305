"""An apply SIGKILLed while its step runs: the output directory stays locked by the step's group."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from test_reliability import FAST_STEP, Harness, _apply_args, _hang_pids, _wait_for

from conftest import KOREAN_ID, is_gone
from recovery_plugin.run.lock import LOCK_NAME
from recovery_plugin.sim.faults import hang_pid_path
from recovery_plugin.sim.harness import SimulatedService

SimFactory = Callable[..., SimulatedService]
Runner = Callable[..., object]


def _stop_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while not is_gone(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_second_apply_is_refused_while_a_killed_launchers_step_runs(
    recovery_sim: SimFactory, run_bundle: Runner, tmp_path: Path
) -> None:
    sim = recovery_sim(faults={"ingest": {"hang": True}}, steps={"ingest": FAST_STEP})
    out = tmp_path / "runs"
    with Harness(tmp_path, *_apply_args(sim, out, KOREAN_ID)) as first:
        _wait_for("the ingest to hang", hang_pid_path(sim.faults_path, "ingest").is_file)
        _wait_for(
            "the lock to list the ingest's group",
            lambda: bool(json.loads((out / LOCK_NAME).read_text())["step_process_groups"]),
        )
        (pgid,) = json.loads((out / LOCK_NAME).read_text())["step_process_groups"]
        first.proc.send_signal(signal.SIGKILL)
        first.wait()
    try:
        assert not is_gone(pgid), "the step died with its launcher: nothing to prove"
        second: object = run_bundle(*_apply_args(sim, out, KOREAN_ID), timeout=30)

        assert second.exit_code == 75, second.output  # type: ignore[attr-defined]
        line = second.stderr.strip()  # type: ignore[attr-defined]
        assert "its steps are still running" in line
        assert f"process group(s) {pgid}" in line
    finally:
        _stop_group(pgid)
        for pid in _hang_pids(sim, "ingest"):
            if not is_gone(pid):
                os.kill(pid, signal.SIGKILL)
