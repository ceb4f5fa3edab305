"""A full disk under a step's log ends the step at once with the reason, never a dead log thread."""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from recovery_plugin import BundleResult
from recovery_plugin.config import StepSpec
from recovery_plugin.redact import Redactor
from recovery_plugin.report.model import StepRecord
from recovery_plugin.run.process import run_process
from recovery_plugin.run.steps import run_step
from recovery_plugin.sim.harness import SimulatedService

# Prints steadily for a minute: with a dead log reader it would block on the full pipe.
CHATTY = (
    "import time\nfor i in range(600):\n    print('x' * 2000, flush=True)\n    time.sleep(0.1)\n"
)


class _FillingDisk(io.BytesIO):
    """A log file on a disk with ``room`` bytes left."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def _full_after(room: int) -> object:
    def opener(path: Path) -> IO[bytes]:
        return _FillingDisk(room)

    return opener


def test_a_log_write_failing_with_enospc_stops_the_step_with_the_reason(tmp_path: Path) -> None:
    result = run_process(
        [sys.executable, "-c", CHATTY],
        log_path=tmp_path / "step.log",
        timeout=60.0,
        redactor=Redactor(),
        kill_grace=0.3,
        open_log=_full_after(10_000),  # type: ignore[arg-type]
    )

    assert result.log_failed
    assert not result.timed_out
    assert result.duration_s < 30, result  # stopped at the failure, not at the 60 s timeout
    assert result.error is not None
    assert "cannot write the step log" in result.error
    assert "No space left on device" in result.error
    assert not result.ok


def test_a_log_that_cannot_even_be_created_fails_the_step_before_it_starts(tmp_path: Path) -> None:
    def no_room(path: Path) -> IO[bytes]:
        raise OSError(errno.ENOSPC, "No space left on device")

    marker = tmp_path / "ran"
    result = run_process(
        [sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
        log_path=tmp_path / "step.log",
        timeout=10.0,
        redactor=Redactor(),
        open_log=no_room,
    )

    assert result.log_failed and not result.ok
    assert "No space left on device" in str(result.error)
    assert not marker.exists()


def test_a_disk_full_step_is_not_retried(tmp_path: Path, monkeypatch: object) -> None:
    import recovery_plugin.run.process as process

    real = process.run_process

    def with_full_disk(*args: object, **kwargs: object) -> process.ProcessResult:
        kwargs["open_log"] = _full_after(5_000)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("recovery_plugin.run.steps.run_process", with_full_disk)  # type: ignore[attr-defined]
    argv = [sys.executable, "-c", CHATTY]
    record = StepRecord(name="ingest", mode="apply", command=argv)
    spec = StepSpec(name="ingest", command=tuple(argv), timeout=60.0, retries=3, backoff=0.01)
    run_step(
        record, spec, argv, step_dir=tmp_path, env=dict(os.environ), cwd=None,
        redactor=Redactor(), cancel=threading.Event(),
    )  # fmt: skip

    assert record.status == "failed"
    assert len(record.attempts) == 1
    assert "No space left on device" in str(record.error)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (root only; skipped elsewhere, saying why)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_ends_the_run_with_the_reason_and_a_final_report(
    recovery_sim: Callable[..., SimulatedService],
    run_bundle: Callable[..., BundleResult],
    small_disk: Path,
) -> None:
    flood = "import sys\nfor i in range(100000):\n    print('x' * 200, flush=True)\n"
    sim = recovery_sim(
        steps={"ingest": {"command": [sys.executable, "-c", flood], "timeout": 60, "retries": 2}}
    )
    out = small_disk / "runs"

    result = run_bundle(
        "run", "--mode", "apply", "--config", str(sim.config_path), "--output-dir", str(out),
        "--matchup-id", "m-1", "--continue-on-error", timeout=90,
    )  # fmt: skip

    sizes = sorted(
        ((f.stat().st_size, str(f)) for f in small_disk.rglob("*") if f.is_file()), reverse=True
    )
    assert result.exit_code == 1, (result.output, sizes[:8])
    assert "Traceback" not in result.output and "internal error" not in result.output, sizes[:8]
    assert "No space left on device" in result.output
    report = result.report
    assert report, result.output
    steps = {step["name"]: step for step in report["steps"]}
    assert steps["ingest"]["status"] == "failed"
    assert len(steps["ingest"]["attempts"]) == 1
    assert "No space left on device" in steps["ingest"]["error"]
    assert steps["reprocess"]["status"] == "skipped"
