"""A full disk under a step's log ends the step at once with the reason, never a dead log thread."""

from __future__ import annotations

import errno
import io
import json
import os
import re
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
    assert_valid_report: Callable[[dict[str, object]], None],
) -> None:
    flood = "import sys\nfor i in range(100000):\n    print('x' * 200, flush=True)\n"
    sim = recovery_sim(
        steps={"ingest": {"command": [sys.executable, "-c", flood], "timeout": 60, "retries": 2}}
    )
    out = small_disk / "runs"

    result = run_bundle(
        "run", "--mode", "apply", "--config", str(sim.config_path), "--output-dir", str(out),
        "--matchup-id", "m-1", "--matchup-id", "m-2", "--continue-on-error", timeout=90,
    )  # fmt: skip

    sizes = sorted(
        ((f.stat().st_size, str(f)) for f in small_disk.rglob("*") if f.is_file()), reverse=True
    )
    assert result.exit_code == 74, (result.output, sizes[:8])  # ExitCode.WRITE_FAILED
    assert "Traceback" not in result.output and "internal error" not in result.output, sizes[:8]
    report = result.report
    assert report, result.output
    assert_valid_report(report)
    steps = {(step["name"], step.get("matchup_id")): step for step in report["steps"]}
    ingest = steps[("ingest", None)]
    log = ingest["log_path"]
    # Whichever write hits the full disk first is the reason: the flooding step's log, or (on a
    # loaded machine) the report rewritten meanwhile. One reason, said once, the run stopped there.
    stopped = re.fullmatch(
        r"the run stopped: (disk full writing (?P<file>.+): No space left on device)",
        str(report["error"]),
    )
    assert stopped is not None, report["error"]
    assert result.report_path is not None
    report_dir = str(result.report_path.parent)
    assert stopped["file"] == log or stopped["file"].startswith(report_dir), report["error"]
    reason = stopped.group(1)
    assert result.output.count(f"error: the run stopped: {reason}") == 1, result.output
    assert ingest["status"] == "failed"
    assert len(ingest["attempts"]) == 1
    assert ingest["duration_s"] < 30  # stopped at the failure, not at its 60 s timeout
    assert "No space left on device" in ingest["error"]
    for key in [("reprocess", "m-1"), ("reprocess", "m-2"), ("capture", None)]:
        assert steps[key]["status"] == "skipped", steps[key]
        assert steps[key]["error"] == f"skipped: the run stopped: {reason}"
        assert "--continue-on-error" not in steps[key]["error"]


def test_a_capture_file_on_a_full_disk_ends_the_run_with_its_name(
    recovery_sim: Callable[..., SimulatedService],
    tmp_path: Path,
    assert_valid_report: Callable[[dict[str, object]], None],
) -> None:
    """The kernel's own ENOSPC: the capture file's temporary is swapped for /dev/full."""
    sim = recovery_sim(steps={"finally": {"command": ["{python}", "-c", "print('cleaned up')"]}})
    out = tmp_path / "runs"
    done = subprocess.run(
        [
            sys.executable, "-c", _CAPTURE_ON_DEV_FULL, "run", "--mode", "apply", "--yes",
            "--config", str(sim.config_path), "--output-dir", str(out),
            "--matchup-id", "m-1", "--skip-ingest", "--skip-reprocess",
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    output = done.stdout + done.stderr
    assert done.returncode == 74, output
    assert "Traceback" not in output and "internal error" not in output
    (report_path,) = out.glob("*/recovery_bundle_report.json")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert_valid_report(report)
    capture_file = report_path.parent / "api_capture.json"
    reason = f"disk full writing {capture_file}: No space left on device"
    assert report["error"] == f"the run stopped: {reason}"
    assert f"error: the run stopped: {reason}" in output
    steps = {step["name"]: step for step in report["steps"]}
    assert (steps["capture"]["status"], steps["capture"]["error"]) == ("failed", reason)
    assert steps["finally"]["status"] == "success"  # the clean-up still ran
    assert not capture_file.exists()
    assert not list(report_path.parent.glob(".*.tmp"))  # no temporary left behind


# The capture file's temporary is replaced by /dev/full: every write to it fails with the
# kernel's ENOSPC, as on a full disk; every other file is written as usual.
_CAPTURE_ON_DEV_FULL = """
import os, sys
import recovery_plugin.atomic as atomic

class _OS:
    def __getattr__(self, name):
        return getattr(os, name)

    def fdopen(self, fd, *args, **kwargs):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".api_capture.json."):
            os.close(fd)
            return open("/dev/full", *args, **kwargs)  # as asked: binary, or text
        return os.fdopen(fd, *args, **kwargs)

atomic.os = _OS()
import recovery_plugin.http.capture_file as capture_file  # the streamed capture file's temporary
capture_file.os = _OS()
from recovery_plugin.cli import main
sys.argv[0] = "recovery-bundle"
main()
"""


def test_a_step_log_on_dev_full_fails_the_step_with_the_kernels_reason(tmp_path: Path) -> None:
    def dev_full(path: Path) -> IO[bytes]:
        return Path("/dev/full").open("w+b")

    result = run_process(
        [sys.executable, "-c", CHATTY],
        log_path=tmp_path / "step.log",
        timeout=60.0,
        redactor=Redactor(),
        kill_grace=0.3,
        open_log=dev_full,
    )

    assert result.log_failed and not result.ok
    assert result.duration_s < 30, result
    assert f"cannot write the step log {tmp_path / 'step.log'}: No space left on device" in str(
        result.error
    )
