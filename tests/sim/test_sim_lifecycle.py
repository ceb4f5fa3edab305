"""Process lifecycle: start/stop, start_delay, start failures, hang faults, database errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID, SAMPLE_INGEST_PATH
from recovery_plugin.sim.harness import SimulatedService


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its new parent) counts as dead
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_dead(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


def _wait_file(path: Path, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, "command exited instead of hanging"
        assert time.monotonic() < deadline, f"{path} not written"
        time.sleep(0.02)


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    svc = SimulatedService(tmp_path / "svc")
    svc.stop()  # safe before start
    svc.start()
    pid = svc.pid
    assert pid is not None and svc.running and svc.ready_path.exists()
    ready = json.loads(svc.ready_path.read_text(encoding="utf-8"))
    assert ready["pid"] == pid and ready["port"] == svc.port
    assert svc.start() is svc  # starting a running service is a no-op
    svc.stop()
    svc.stop()  # idempotent
    assert not svc.running and svc.pid is None
    assert not _alive(pid)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with httpx.Client(timeout=2) as client, pytest.raises(httpx.ConnectError):
        client.get(svc.url("/health"))


def test_restart_keeps_port_and_data(tmp_path: Path) -> None:
    svc = SimulatedService(tmp_path / "svc")
    with svc:
        svc.seed()
        port = svc.port
    with svc, httpx.Client(timeout=5) as client:
        assert svc.port == port
        assert client.get(svc.matchup_url(DEFAULT_MATCHUP_ID)).status_code == 200


def test_start_delay_with_wait_false(tmp_path: Path) -> None:
    svc = SimulatedService(tmp_path / "svc", faults={"service": {"start_delay": 0.8}})
    started = time.monotonic()
    try:
        svc.start(wait=False)
        assert time.monotonic() - started < 0.5
        with httpx.Client(timeout=2) as client:
            with pytest.raises(httpx.ConnectError):
                client.get(svc.url("/health"))
            svc.wait_ready(timeout=10)
            assert time.monotonic() - started >= 0.8
            assert client.get(svc.url("/health")).status_code == 200
    finally:
        svc.stop()


def test_start_failure_reports_log_tail(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        svc = SimulatedService(tmp_path / "svc", port=port)
        with pytest.raises(RuntimeError, match="Address already in use"):
            svc.start(timeout=10)
    assert svc.pid is None


def test_serve_refuses_bad_faults_and_missing_token(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text('{"service": {"start_dely": 1}}', encoding="utf-8")
    argv = [sys.executable, "-m", "recovery_plugin.sim", "serve", "--port", "0"]
    argv += ["--data-dir", str(tmp_path / "d")]
    env = {**os.environ, "INTERNAL_JOB_TOKEN": "t"}
    bad = subprocess.run(
        [*argv, "--faults", str(faults)], env=env, capture_output=True, text=True, timeout=20
    )
    assert bad.returncode == 2
    assert "unknown key 'service.start_dely'" in bad.stderr
    env.pop("INTERNAL_JOB_TOKEN")
    no_token = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=20)
    assert no_token.returncode == 2 and "INTERNAL_JOB_TOKEN" in no_token.stderr


def test_database_error_is_503(tmp_path: Path) -> None:
    with SimulatedService(tmp_path / "svc") as svc, httpx.Client(timeout=5) as client:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{svc.db_path}{suffix}").unlink(missing_ok=True)
        svc.db_path.write_bytes(b"this is not a database" * 100)
        response = client.get(svc.url("/api/v1/dashboard/summary"))
        assert response.status_code == 503
        assert "database" in response.json()["detail"]
        assert client.get(svc.url("/health")).status_code == 200


@pytest.mark.parametrize("command", ["ingest", "reprocess"])
def test_hang_fault_writes_pid_file(tmp_path: Path, command: str) -> None:
    svc = SimulatedService(tmp_path / "svc")
    if command == "ingest":
        svc.set_faults({"ingest": {"hang": True}})
        argv = [sys.executable, "-m", "recovery_plugin.sim.ingest", "--api-base", svc.base_url]
        argv += ["--input", str(SAMPLE_INGEST_PATH), "--report", str(tmp_path / "r.json")]
    else:
        svc.set_faults({"reprocess": {"hang_ids": [DEFAULT_MATCHUP_ID]}})
        argv = [sys.executable, "-m", "recovery_plugin.sim.reprocess", "--mode", "apply"]
        argv += ["--matchup-id", DEFAULT_MATCHUP_ID, "--output-dir", str(tmp_path / "o")]
        argv += ["--report", str(tmp_path / "r.json")]
    pid_file = svc.data_dir / f"{command}-hang.pids.json"
    proc = subprocess.Popen(
        argv,
        env=svc.command_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_file(pid_file, proc)
        pids = json.loads(pid_file.read_text(encoding="utf-8"))
        assert pids["pid"] == proc.pid
        assert _alive(pids["child_pid"]) and proc.poll() is None
        time.sleep(0.1)
        assert proc.poll() is None  # still hanging
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    assert _wait_dead(pids["child_pid"])
    assert not (tmp_path / "r.json").exists()
