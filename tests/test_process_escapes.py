"""A step whose descendants leave its process group (``setsid``) and keep its output open."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

from conftest import is_gone
from recovery_plugin.redact import Redactor
from recovery_plugin.run.process import ProcessResult, run_process

# The command starts a daemon that calls setsid, keeps the inherited stdout, records its pid
# and sleeps; the command itself then exits (``exit_after``) or hangs.
ESCAPER = """\
    import os, subprocess, sys, time
    pid_file, exit_after = sys.argv[1], sys.argv[2] == "exit"
    subprocess.Popen([sys.executable, "-c", (
        "import os, sys, time\\n"
        "os.setsid()\\n"
        "open(sys.argv[1], 'w').write(str(os.getpid()))\\n"
        "time.sleep(60)\\n"
    ), pid_file])
    while not os.path.exists(pid_file) or not open(pid_file).read():
        time.sleep(0.01)
    print("daemon started", flush=True)
    if not exit_after:
        time.sleep(60)
"""


def _run_escaper(
    tmp_path: Path, how: str, *, timeout: float, cancel: threading.Event | None = None
) -> tuple[ProcessResult, int]:
    pid_file = tmp_path / "daemon.pid"
    result = run_process(
        [sys.executable, "-c", textwrap.dedent(ESCAPER), str(pid_file), how],
        log_path=tmp_path / "step.log",
        timeout=timeout,
        redactor=Redactor(),
        kill_grace=0.3,
        cancel=cancel,
    )
    return result, int(pid_file.read_text())


def _kill(pid: int) -> None:
    if not is_gone(pid):
        os.kill(pid, signal.SIGKILL)


def _wait_gone(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not is_gone(pid):
        time.sleep(0.02)
    return is_gone(pid)


def test_a_setsid_daemon_holding_the_output_does_not_outlast_the_timeout(tmp_path: Path) -> None:
    holder = threading.Timer(20, lambda: None)  # the test must not hang if the harness does
    holder.start()
    try:
        result, daemon = _run_escaper(tmp_path, "hang", timeout=1.0)
    finally:
        holder.cancel()
    try:
        assert result.timed_out
        assert result.duration_s < 10, result
        assert _wait_gone(daemon), "the daemon that left the group survived"
        assert daemon in result.stopped
        assert result.left_running == []
        assert "daemon started" in (tmp_path / "step.log").read_text()
    finally:
        _kill(daemon)


def test_a_daemon_left_behind_by_a_finished_step_is_stopped_and_reported(tmp_path: Path) -> None:
    result, daemon = _run_escaper(tmp_path, "exit", timeout=30.0)
    try:
        assert result.exit_code == 0
        assert not result.timed_out
        assert result.duration_s < 15, result
        assert _wait_gone(daemon)
        assert result.stopped == [daemon]
    finally:
        _kill(daemon)


def test_a_cancel_ends_the_wait_whatever_the_daemon_holds_open(tmp_path: Path) -> None:
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    result, daemon = _run_escaper(tmp_path, "hang", timeout=60.0, cancel=cancel)
    try:
        assert result.cancelled
        assert result.duration_s < 10, result
        assert _wait_gone(daemon)
    finally:
        _kill(daemon)


def test_the_step_record_says_what_was_stopped(tmp_path: Path) -> None:
    from recovery_plugin.config import StepSpec
    from recovery_plugin.report.model import StepRecord
    from recovery_plugin.run.steps import run_step

    pid_file = tmp_path / "daemon.pid"
    argv = [sys.executable, "-c", textwrap.dedent(ESCAPER), str(pid_file), "exit"]
    record = StepRecord(name="ingest", mode="apply", command=argv)
    spec = StepSpec(name="ingest", command=tuple(argv), timeout=30.0, kill_grace=0.3)
    run_step(
        record, spec, argv, step_dir=tmp_path, env=dict(os.environ), cwd=None,
        redactor=Redactor(), cancel=threading.Event(),
    )  # fmt: skip
    daemon = int(pid_file.read_text())
    try:
        assert record.status == "success"
        assert record.stopped == [daemon]
        assert record.left_running == []
        assert record.to_dict()["stopped"] == [daemon]
    finally:
        _kill(daemon)
