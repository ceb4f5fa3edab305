"""The output-dir lock under races and crashes: exactly one apply wins, a dead run's steps block."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import is_gone
from recovery_plugin.errors import ExitCode, RecoveryError
from recovery_plugin.run.lock import LOCK_NAME, OutputLock

RACERS = 12
ROUNDS = 200
LINE_TIMEOUT = 20.0  # seconds for any racer to answer; a hang fails the test instead of blocking it

# A long-lived racer: on "go" it tries the lock and says "won" or "refused <exit code>"; a winner
# holds the lock until told "release", so every other racer of the round meets a held lock.
_RACER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from recovery_plugin.errors import RecoveryError
    from recovery_plugin.run.lock import OutputLock

    directory = Path(sys.argv[1])
    for line in sys.stdin:
        command = line.split()
        if command[0] != "go":
            continue
        lock = OutputLock(directory, run_id=f"racer-{command[1]}", warn=lambda message: None)
        try:
            lock.acquire()
        except RecoveryError as error:
            print(f"refused {int(error.exit_code)}", flush=True)
            continue
        print("won", flush=True)
        sys.stdin.readline()  # "release"
        lock.release()
        print("released", flush=True)
    """
)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_stale_holder(directory: Path, dead_pid: int) -> None:
    holder = {"pid": dead_pid, "host": socket.gethostname(), "run_id": "crashed"}
    (directory / LOCK_NAME).write_text(json.dumps(holder), encoding="utf-8")


@pytest.fixture
def racers(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(tmp_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(RACERS)
    ]
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def _say(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def _answer(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


@pytest.mark.parametrize("start", ["stale-lock", "no-lock"])
def test_among_concurrent_racers_exactly_one_wins_each_round(
    tmp_path: Path, racers: list[subprocess.Popen[str]], start: str
) -> None:
    dead_pid = _dead_pid()
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        for number in range(ROUNDS):
            if start == "stale-lock":
                _write_stale_holder(tmp_path, dead_pid)
            for proc in racers:
                _say(proc, f"go {number}")
            answers = [
                future.result(timeout=LINE_TIMEOUT)
                for future in [pool.submit(_answer, proc) for proc in racers]
            ]

            winners = [
                proc for proc, answer in zip(racers, answers, strict=True) if answer == "won"
            ]
            assert len(winners) == 1, f"round {number}: {answers}"
            assert sorted(answers).count(f"refused {int(ExitCode.LOCKED)}") == RACERS - 1
            _say(winners[0], "release")
            assert pool.submit(_answer, winners[0]).result(timeout=LINE_TIMEOUT) == "released"
            assert not (tmp_path / LOCK_NAME).exists()


# --- a holder killed while its step runs ------------------------------------------------------

# Takes the lock, starts a "step" in its own process group, records the group, says so, and
# waits to be SIGKILLed: the lock's holder dies, the step lives on.
_HOLDER_WITH_STEP = textwrap.dedent(
    """
    import subprocess, sys, time
    from pathlib import Path
    from recovery_plugin.run.lock import OutputLock

    lock = OutputLock(Path(sys.argv[1]), run_id="killed-run", warn=print)
    lock.acquire()
    step = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    lock.record_step(step.pid)
    print(step.pid, flush=True)
    time.sleep(120)
    """
)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return not is_gone(pgid)  # the group's leader is its only member


def test_a_killed_holder_whose_step_still_runs_keeps_the_output_dir_locked(
    tmp_path: Path,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER_WITH_STEP, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    step_pgid = int(holder.stdout.readline())
    holder.stdout.close()
    try:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        warnings: list[str] = []
        newcomer = OutputLock(tmp_path, run_id="new-run", warn=warnings.append)

        with pytest.raises(RecoveryError) as info:
            newcomer.acquire()

        assert info.value.exit_code == ExitCode.LOCKED
        message = info.value.message
        assert str(step_pgid) in message
        assert f"pid {holder.pid} on {socket.gethostname()}" in message
        assert "(run killed-run)" in message
        assert "still running" in message
        assert not newcomer.held
        assert warnings == []
    finally:
        if _group_alive(step_pgid):
            os.killpg(step_pgid, signal.SIGKILL)
    # Once the step is gone (a zombie awaiting its new parent counts as gone), the lock is stale.
    deadline = time.monotonic() + LINE_TIMEOUT
    while _group_alive(step_pgid) and time.monotonic() < deadline:
        time.sleep(0.02)
    newcomer.acquire()
    try:
        assert newcomer.held
        assert len(warnings) == 1 and "taking over a stale lock" in warnings[0]
    finally:
        newcomer.release()
