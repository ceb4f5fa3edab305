"""Temporary files left by a killed atomic write are removed by the next run in that directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from recovery_plugin import BundleResult
from recovery_plugin.atomic import remove_stale_temporaries, write_json_atomic
from recovery_plugin.sim.harness import SimulatedService


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_writers_temporary_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    write_json_atomic(run_dir / "report.json", {"status": "running"})
    dead = run_dir / f".report.json.{_dead_pid()}.abc123.tmp"
    dead.write_text('{"status": "runn')
    live = run_dir / f".capture.json.{os.getpid()}.def456.tmp"
    live.write_text("{")
    unrelated = run_dir / "notes.tmp"
    unrelated.write_text("mine")

    removed = remove_stale_temporaries(tmp_path)

    assert removed == [dead]
    assert not dead.exists()
    assert live.exists() and unrelated.exists()
    assert (run_dir / "report.json").read_text().startswith("{")


def test_the_cleanup_goes_down_to_its_depth_and_never_through_a_symlink(tmp_path: Path) -> None:
    dead_pid = _dead_pid()
    outside = tmp_path / "outside"
    outside.mkdir()
    elsewhere = outside / f".keep.json.{dead_pid}.aaa.tmp"
    elsewhere.write_text("{")
    out = tmp_path / "out"
    step = out / "run-1" / "steps" / "ingest"
    step.mkdir(parents=True)
    in_reach = step / f".report.json.{dead_pid}.bbb.tmp"
    in_reach.write_text("{")
    too_deep = step / "deeper"
    too_deep.mkdir()
    beyond = too_deep / f".report.json.{dead_pid}.ccc.tmp"
    beyond.write_text("{")
    (out / "run-1" / "link").symlink_to(outside, target_is_directory=True)
    named_like_one = out / f".dir.{dead_pid}.ddd.tmp"
    named_like_one.mkdir()

    removed = remove_stale_temporaries(out, depth=3)

    assert removed == [in_reach]
    assert beyond.exists() and elsewhere.exists() and named_like_one.is_dir()


def test_the_cleanup_of_a_directory_that_is_not_there_removes_nothing(tmp_path: Path) -> None:
    assert remove_stale_temporaries(tmp_path / "missing", depth=3) == []


def test_a_killed_atomic_write_leaves_a_temporary_the_cleanup_recognises(tmp_path: Path) -> None:
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "import recovery_plugin.atomic as atomic\n"
        "def die(handle):\n"
        "    handle.write(b'{\"partial')\n"
        "    handle.flush()\n"
        "    os._exit(9)\n"
        "atomic._write_atomic(Path(sys.argv[1]), die)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "report.json")], check=False)
    (leftover,) = tmp_path.glob(".report.json.*.tmp")

    assert remove_stale_temporaries(tmp_path) == [leftover]
    assert list(tmp_path.iterdir()) == []


def test_the_next_run_in_an_output_dir_removes_a_killed_runs_temporaries(
    recovery_sim: Callable[..., SimulatedService], run_bundle: Callable[..., BundleResult],
    tmp_path: Path,
) -> None:  # fmt: skip
    sim = recovery_sim()
    old_step = tmp_path / "runs" / "20260101T000000Z-old" / "steps" / "ingest"
    old_step.mkdir(parents=True)
    leftovers = [
        old_step.parent.parent / f".report.json.{_dead_pid()}.x1.tmp",
        old_step / f".step.json.{_dead_pid()}.x2.tmp",
    ]
    for leftover in leftovers:
        leftover.write_text("{")

    result = run_bundle("run", "--mode", "dry-run", "--config", str(sim.config_path))

    assert result.exit_code == 0, result.output
    assert [path for path in leftovers if path.exists()] == []
