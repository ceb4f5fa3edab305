"""The report on a full disk: a write never raises into the run (the failure is kept, the run
stops on it), and the final report is shortened until it fits (a real, small tmpfs)."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from recovery_plugin.names import REPORT_NAME
from recovery_plugin.redact import Redactor
from recovery_plugin.report.model import StepRecord
from recovery_plugin.report.writer import Report, ReportWriter


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (root only; skipped elsewhere, saying why)."""
    mount = tmp_path / "tiny-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int = 0) -> None:
    """Fill ``disk`` but for about ``leave`` bytes."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 4096)
    size = filler.stat().st_size
    with filler.open("r+b") as handle:
        handle.truncate(max(0, size - leave))


def _report(run_dir: Path, steps: int, tail_chars: int) -> Report:
    report = Report(
        run_id="r1",
        mode="apply",
        api_base="http://127.0.0.1:8100",
        output_dir=str(run_dir.parent),
        run_dir=str(run_dir),
        started_at="2026-12-03T00:00:00.000+00:00",
    )
    for n in range(steps):
        record = StepRecord(name="reprocess", mode="apply", command=["re.py"], matchup_id=f"m-{n}")
        record.status = "failed"
        record.tail = [f"{n}:{i}:" + "x" * tail_chars for i in range(20)]
        report.steps.append(record)
    return report


def test_a_report_too_large_for_the_disk_is_shortened_to_fit(tiny_disk: Path) -> None:
    report = _report(tiny_disk, steps=20, tail_chars=500)  # ~200 KB of tails on a 64 KiB disk
    writer = ReportWriter(tiny_disk, Redactor())

    payload = writer.finalize(report, finished_at="2026-12-03T00:00:01.000+00:00", duration_s=1)

    written = json.loads((tiny_disk / REPORT_NAME).read_text(encoding="utf-8"))
    assert writer.failure == f"disk full writing {tiny_disk / REPORT_NAME}: No space left on device"
    assert writer.shortened
    assert [s["tail"] for s in written["steps"]] == [[]] * 20
    assert [s["matchup_id"] for s in written["steps"]] == [f"m-{n}" for n in range(20)]
    assert written["status"] == "failed" and written["ops_checklist"]
    assert any("report shortened to fit a full disk" in w for w in written["warnings"])
    assert len(payload["steps"][0]["tail"]) == 20  # the console still gets the whole report
    assert not list(tiny_disk.glob(".*.tmp"))


def test_a_write_on_a_full_disk_is_kept_never_raised(tiny_disk: Path) -> None:
    _fill(tiny_disk)
    writer = ReportWriter(tiny_disk, Redactor(), min_interval=0)
    report = _report(tiny_disk, steps=2, tail_chars=10)

    writer.write(report)  # no exception: the run is told through writer.failure

    assert writer.failure == f"disk full writing {tiny_disk / REPORT_NAME}: No space left on device"
    assert not (tiny_disk / REPORT_NAME).exists()
    assert not list(tiny_disk.glob(".*.tmp"))


def test_the_stale_report_makes_room_for_a_smaller_final_one(tiny_disk: Path) -> None:
    report = _report(tiny_disk, steps=4, tail_chars=400)
    writer = ReportWriter(tiny_disk, Redactor(), min_interval=0)
    writer.write(report)  # the last report of a live run: status running, with its tails
    stale = (tiny_disk / REPORT_NAME).stat().st_size
    _fill(tiny_disk)

    writer.finalize(report, finished_at="2026-12-03T00:00:01.000+00:00", duration_s=1)

    written = json.loads((tiny_disk / REPORT_NAME).read_text(encoding="utf-8"))
    assert written["status"] == "failed"  # the final one, not the stale "running"
    assert written["finished_at"] is not None
    assert (tiny_disk / REPORT_NAME).stat().st_size <= stale
    assert writer.shortened and writer.failure is not None
