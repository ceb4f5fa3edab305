"""A closed stdout (``recovery-bundle run ... | head -1``) never aborts a mutating run."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from test_reliability import FAST_STEP, _apply_args

from conftest import KOREAN_ID
from recovery_plugin.render.progress import Progress
from recovery_plugin.report.writer import REPORT_NAME
from recovery_plugin.sim.harness import SimulatedService

SimFactory = Callable[..., SimulatedService]


class _ClosedPipe(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no descriptor")


def test_console_lines_to_a_closed_pipe_are_dropped() -> None:
    stream = _ClosedPipe()
    with Progress(stream, live=False) as progress:
        progress.line("[ingest] running")
        progress.line("[ingest] success")

    assert stream.writes == 1  # the first failure closes the console; nothing is retried


def test_an_apply_piped_into_head_finishes_and_writes_its_report(
    recovery_sim: SimFactory, tmp_path: Path
) -> None:
    sim = recovery_sim(steps={"ingest": FAST_STEP})
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "recovery_plugin", *_apply_args(sim, out, KOREAN_ID)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=dict(os.environ),
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    code = proc.wait(120)

    assert first
    assert code == 0, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    (report_path,) = out.glob(f"*/{REPORT_NAME}")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["status"] == "success"
    assert all(step["status"] == "success" for step in report["steps"])


def test_a_reader_gone_before_the_final_summary_leaves_the_exit_code_honest(
    tmp_path: Path,
) -> None:
    """Only the summary lines meet the closed pipe: still no internal error, the run's exit code."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from types import SimpleNamespace\n"
        "from recovery_plugin.cli.run_commands import finish\n"
        "sys.stdout.close = lambda: None\n"
        "from recovery_plugin.resolve.context import RunRequest, resolve_run\n"
        "report = resolve_run(RunRequest(mode='dry-run')).start_report().to_dict()\n"
        "outcome = SimpleNamespace(report=report, report_path='r.json', exit_code=1)\n"
        "finish(outcome, False)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    )
    assert proc.stdout is not None
    proc.stdout.close()  # nobody reads: the first summary line meets a broken pipe
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert b"internal error" not in err and b"Traceback" not in err
