"""One apply per output directory: a live holder is refused (exit 75), a stale one taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from recovery_plugin.errors import ExitCode, RecoveryError
from recovery_plugin.run.lock import LOCK_NAME, OutputLock


@pytest.fixture
def warnings() -> list[str]:
    return []


@pytest.fixture
def lock(tmp_path: Path, warnings: list[str]) -> Iterator[OutputLock]:
    held = OutputLock(tmp_path, run_id="run-1", warn=warnings.append)
    yield held
    held.release()


def _write_holder(directory: Path, **holder: object) -> Path:
    path = directory / LOCK_NAME
    path.write_text(json.dumps(holder), encoding="utf-8")
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_acquire_writes_a_holder_file_and_release_removes_it(
    tmp_path: Path, lock: OutputLock
) -> None:
    lock.acquire()

    holder = json.loads((tmp_path / LOCK_NAME).read_text(encoding="utf-8"))
    assert holder["pid"] == os.getpid()
    assert holder["host"] == socket.gethostname()
    assert holder["run_id"] == "run-1"
    assert holder["started_at"]
    assert lock.held

    lock.release()

    assert not (tmp_path / LOCK_NAME).exists()
    assert not lock.held
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_live_holder_is_refused_with_exit_code_75(tmp_path: Path, lock: OutputLock) -> None:
    lock.acquire()
    second = OutputLock(tmp_path, run_id="run-2", warn=lambda message: None)

    with pytest.raises(RecoveryError) as info:
        second.acquire()

    assert info.value.exit_code == ExitCode.LOCKED == 75
    message = info.value.message
    assert f"output directory {tmp_path} is locked by another apply" in message
    assert f"pid {os.getpid()} on {socket.gethostname()}" in message
    assert "(run run-1)" in message
    assert str(tmp_path / LOCK_NAME) in message
    assert not second.held
    holder = json.loads((tmp_path / LOCK_NAME).read_text(encoding="utf-8"))
    assert holder["run_id"] == "run-1"  # the live holder's lock is untouched


def test_a_live_holder_in_another_process_is_refused(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    ) as other:
        try:
            _write_holder(
                tmp_path,
                pid=other.pid,
                host=socket.gethostname(),
                started_at="2026-01-01T00:00:00+00:00",
                run_id="other",
            )
            with pytest.raises(RecoveryError) as info:
                OutputLock(tmp_path, run_id="me", warn=lambda message: None).acquire()
        finally:
            assert other.stdin is not None
            other.stdin.close()
            other.wait()

    assert info.value.exit_code == ExitCode.LOCKED
    assert f"pid {other.pid}" in info.value.message


def test_a_stale_holder_is_taken_over_with_a_warning(
    tmp_path: Path, lock: OutputLock, warnings: list[str]
) -> None:
    dead = _dead_pid()
    _write_holder(tmp_path, pid=dead, host=socket.gethostname(), run_id="crashed")

    lock.acquire()

    assert lock.held
    holder = json.loads((tmp_path / LOCK_NAME).read_text(encoding="utf-8"))
    assert (holder["pid"], holder["run_id"]) == (os.getpid(), "run-1")
    assert len(warnings) == 1
    assert warnings[0].startswith(f"warning: taking over a stale lock on {tmp_path}")
    assert f"pid {dead} on {socket.gethostname()}" in warnings[0]
    assert "no longer running" in warnings[0]


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '"text"'])
def test_an_unreadable_holder_is_taken_over_with_a_warning(
    tmp_path: Path, lock: OutputLock, warnings: list[str], content: str
) -> None:
    (tmp_path / LOCK_NAME).write_text(content, encoding="utf-8")

    lock.acquire()

    assert lock.held
    assert len(warnings) == 1
    assert "an unreadable holder" in warnings[0]


@pytest.mark.parametrize("pid", [None, "123", 0, -5])
def test_a_holder_without_a_usable_pid_is_stale(
    tmp_path: Path, lock: OutputLock, warnings: list[str], pid: object
) -> None:
    _write_holder(tmp_path, pid=pid, host=socket.gethostname(), run_id="odd")

    lock.acquire()

    assert lock.held
    assert len(warnings) == 1


def test_a_holder_on_another_host_is_never_taken_over(
    tmp_path: Path, lock: OutputLock, warnings: list[str]
) -> None:
    _write_holder(tmp_path, pid=_dead_pid(), host="some-other-host.invalid", run_id="remote")

    with pytest.raises(RecoveryError) as info:
        lock.acquire()

    assert info.value.exit_code == ExitCode.LOCKED
    assert "some-other-host.invalid" in info.value.message
    assert warnings == []
    assert json.loads((tmp_path / LOCK_NAME).read_text(encoding="utf-8"))["run_id"] == "remote"


def test_release_leaves_a_lock_that_another_run_took_over(tmp_path: Path, lock: OutputLock) -> None:
    lock.acquire()
    _write_holder(tmp_path, pid=os.getpid(), host=socket.gethostname(), run_id="newer")

    lock.release()

    assert json.loads((tmp_path / LOCK_NAME).read_text(encoding="utf-8"))["run_id"] == "newer"


def test_release_without_acquire_touches_nothing(tmp_path: Path) -> None:
    path = _write_holder(tmp_path, pid=os.getpid(), host=socket.gethostname(), run_id="run-1")

    OutputLock(tmp_path, run_id="run-1", warn=lambda message: None).release()

    assert path.exists()


def test_after_release_the_next_apply_can_lock(tmp_path: Path, lock: OutputLock) -> None:
    lock.acquire()
    lock.release()
    following = OutputLock(tmp_path, run_id="run-2", warn=lambda message: None)

    following.acquire()
    try:
        assert following.held
        assert json.loads((tmp_path / LOCK_NAME).read_text(encoding="utf-8"))["run_id"] == "run-2"
    finally:
        following.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_recorded_step_groups_are_written_in_the_lock_until_forgotten(
    tmp_path: Path, lock: OutputLock
) -> None:
    lock.acquire()

    lock.record_step(4242)
    lock.record_step(4343)
    written = json.loads((tmp_path / LOCK_NAME).read_text(encoding="utf-8"))
    lock.forget_step(4242)
    after = json.loads((tmp_path / LOCK_NAME).read_text(encoding="utf-8"))

    assert written["step_process_groups"] == [4242, 4343]
    assert after["step_process_groups"] == [4343]
    assert after["run_id"] == "run-1"
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_NAME]  # no temporary file left
    # Still held after the rewrites: the kernel lock moved to the new file with it.
    with pytest.raises(RecoveryError):
        OutputLock(tmp_path, run_id="run-2", warn=lambda message: None).acquire()


def test_a_dead_holder_whose_recorded_steps_are_gone_is_stale(
    tmp_path: Path, lock: OutputLock, warnings: list[str]
) -> None:
    _write_holder(
        tmp_path,
        pid=_dead_pid(),
        host=socket.gethostname(),
        run_id="crashed",
        step_process_groups=[_dead_pid(), _dead_pid()],
    )

    lock.acquire()

    assert lock.held
    assert len(warnings) == 1 and "taking over a stale lock" in warnings[0]


def test_a_stale_lock_naming_this_very_pid_is_taken_over(
    tmp_path: Path, lock: OutputLock, warnings: list[str]
) -> None:
    # A container restarted after a crash often gives the new run the crashed run's pid.
    _write_holder(tmp_path, pid=os.getpid(), host=socket.gethostname(), run_id="before-restart")

    lock.acquire()

    assert lock.held
    assert len(warnings) == 1


def test_record_step_without_the_lock_writes_nothing(tmp_path: Path) -> None:
    idle = OutputLock(tmp_path, run_id="run-1", warn=lambda message: None)

    idle.record_step(4242)
    idle.forget_step(4242)

    assert list(tmp_path.iterdir()) == []


def test_a_missing_output_directory_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "not-there"

    with pytest.raises(RecoveryError) as info:
        OutputLock(missing, run_id="run-1", warn=lambda message: None).acquire()

    assert info.value.exit_code == ExitCode.USAGE
    assert (
        info.value.message == f"cannot lock output directory {missing}: No such file or directory"
    )
