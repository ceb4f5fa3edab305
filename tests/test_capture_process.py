"""The launcher's capture in a child process: the same captures, masked here, stopped when told.

``recovery-bundle verify`` and ``run`` capture through :class:`ProcessCaptureBatch` (the plain
pytest gate keeps the in-process batch). What a user relies on: the same capture as in-process,
secrets masked in what is written, a child that fails says so (never a hang, never a silent
pass), and an interrupted run or a vanished launcher leaves no child behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import is_gone
from recovery_plugin.config import CaptureSpec
from recovery_plugin.config.loading import load_runbook
from recovery_plugin.http.batch import CaptureBatch
from recovery_plugin.http.capture import Target, targets_for
from recovery_plugin.http.capture_file import CaptureFileStream, read_captures
from recovery_plugin.http.capture_process import ProcessCaptureBatch
from recovery_plugin.redact import MASK, Redactor
from recovery_plugin.sim.data import MATCHUP_IDS
from recovery_plugin.sim.harness import SimulatedService

SimFactory = Callable[..., SimulatedService]
TOKEN = "tok-5e4d3c2b1a09"
SPEC = CaptureSpec(timeout=30.0, readiness_deadline=5.0, readiness_interval=0.05)


def _comparable(batch: Any) -> dict[Any, dict[str, Any]]:
    return {
        key: {
            "status": c.status,
            "body": c.body,
            "error": c.error,
            "decode_error": c.decode_error,
            "content_type": c.headers.get("content-type"),
            "url": c.url,
        }
        for key, c in batch.wait().items()
    }


def test_the_child_captures_exactly_what_the_in_process_batch_does(
    recovery_sim: SimFactory,
) -> None:
    sim = recovery_sim()
    sim.seed()
    runbook = load_runbook(sim.config_path)
    ids = [*MATCHUP_IDS, "20260603|없는|00-000"]
    targets = targets_for(runbook.endpoints, ids)
    kwargs: dict[str, Any] = {"redactor": Redactor(), "readiness_path": "/health"}
    threads = CaptureBatch(sim.base_url, targets, SPEC, **kwargs).start()
    child = ProcessCaptureBatch(sim.base_url, targets, SPEC, **kwargs).start()

    assert _comparable(child) == _comparable(threads)
    assert len(_comparable(child)) == len(targets)
    assert child.readiness is not None and child.readiness.ready
    assert child.concurrency()["strategy"] == threads.concurrency()["strategy"] == "adaptive"
    missing = child.get(Target("matchup", "/api/v1/matchups/{matchup_id}", ids[-1]))
    assert missing is not None and missing.status == 404


class _Secretive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hold = threading.Event()

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            self.hold.wait(30)
        body = json.dumps({"status": "ok", "token": TOKEN}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Token", TOKEN)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the interrupted client is gone
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Secretive)
    httpd.daemon_threads = True
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        _Secretive.hold.set()
        httpd.shutdown()
        httpd.server_close()
        _Secretive.hold.clear()


def test_a_secret_is_judged_raw_but_masked_in_the_capture_file(server: str, tmp_path: Path) -> None:
    path = tmp_path / "api_capture.json"
    stream = CaptureFileStream(path, server)
    batch = ProcessCaptureBatch(
        server,
        [Target("health", "/health")],
        SPEC,
        redactor=Redactor([TOKEN]),
        readiness_path=None,
        stream=stream,
    ).start()
    (capture,) = batch.wait().values()
    stream.finish()

    assert capture.body == {"status": "ok", "token": TOKEN}  # the checks see the real answer
    assert TOKEN not in path.read_text(encoding="utf-8")
    (written,) = read_captures(path)
    assert written["body"]["token"] == MASK
    assert written["headers"]["x-token"] == MASK


@pytest.mark.parametrize("batch_class", [ProcessCaptureBatch, CaptureBatch])
def test_the_batch_fetches_the_contract_documents_beside_the_captures(
    server: str, batch_class: type[ProcessCaptureBatch] | type[CaptureBatch]
) -> None:
    dead = "http://127.0.0.1:9/openapi.json"  # nothing listens on the discard port
    served = f"{server}/openapi.json"
    batch = batch_class(
        server,
        [Target("health", "/health")],
        SPEC,
        redactor=Redactor([TOKEN]),
        readiness_path=None,
        documents=[served, dead, served],
    ).start()

    fetched = batch.document(served)
    assert fetched is not None and fetched.status == 200 and fetched.problem is None
    assert json.loads(fetched.content)["token"] == TOKEN  # as served: the contract judges it
    unreachable = batch.document(dead)
    assert unreachable is not None and unreachable.status is None
    assert unreachable.problem is not None
    assert unreachable.problem.startswith(f"cannot fetch the OpenAPI document {dead}: ")
    assert batch.document(f"{server}/other.json") is None  # not one it fetches: the caller does
    assert len(batch.wait()) == 1


def test_a_child_that_dies_leaves_its_documents_to_the_session(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ProcessCaptureBatch, "child_argv", (sys.executable, "-c", "exit(3)"))
    url = f"{server}/openapi.json"
    batch = ProcessCaptureBatch(
        server, [Target("health", "/health")], SPEC, redactor=Redactor(), readiness_path=None,
        documents=[url],
    ).start()  # fmt: skip

    assert batch.document(url) is None  # no answer, and no wait for one that cannot come


def test_a_child_that_dies_fails_the_batch_with_its_exit_code_and_last_words(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dies = f"import sys; sys.stderr.write('boom: no {TOKEN} here\\n'); sys.exit(3)"
    monkeypatch.setattr(ProcessCaptureBatch, "child_argv", (sys.executable, "-c", dies))
    target = Target("health", "/health")
    batch = ProcessCaptureBatch(
        server, [target], SPEC, redactor=Redactor([TOKEN]), readiness_path=None
    ).start()

    message = f"the capture process exited with code 3 before it finished: boom: no {MASK} here"
    capture = batch.get(target)
    assert capture is not None
    assert capture.error == {"kind": "capture_failed", "message": message}
    assert [c.error for c in batch.wait().values()] == [capture.error]


def test_a_child_that_cannot_be_started_fails_the_batch(
    server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(ProcessCaptureBatch, "child_argv", (str(tmp_path / "no-python"),))
    target = Target("health", "/health")
    batch = ProcessCaptureBatch(server, [target], SPEC, redactor=Redactor(), readiness_path=None)
    capture = batch.start().get(target)
    assert capture is not None and capture.error is not None
    assert capture.error["kind"] == "capture_failed"
    assert capture.error["message"].startswith("cannot start the capture process: ")


def test_an_interrupt_stops_the_child_and_its_requests_in_flight_at_once(server: str) -> None:
    cancel = threading.Event()
    slow = Target("slow", "/slow")
    batch = ProcessCaptureBatch(
        server, [slow], dataclasses.replace(SPEC, timeout=60.0), redactor=Redactor(),
        readiness_path="/health", cancel=cancel,
    ).start()  # fmt: skip
    deadline = time.monotonic() + 10
    while batch.readiness is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert batch.readiness is not None, "the child never got past the readiness wait"
    time.sleep(0.2)  # the slow request is in flight, held by the server for 30 s
    started = time.monotonic()
    cancel.set()

    assert batch.wait() == {}
    assert time.monotonic() - started < 3
    assert batch._proc is not None and batch._proc.poll() is not None


PARENT = """\
    import sys, time
    from recovery_plugin.config import CaptureSpec
    from recovery_plugin.http.capture_process import ProcessCaptureBatch
    from recovery_plugin.http.capture import Target
    from recovery_plugin.redact import Redactor
    batch = ProcessCaptureBatch(
        sys.argv[1], [Target("slow", "/slow")], CaptureSpec(timeout=60.0),
        redactor=Redactor(), readiness_path=None,
    ).start()
    print(batch._proc.pid, flush=True)
    time.sleep(0.5)  # the child's request is in flight
    import os
    os._exit(0)  # the launcher vanishes (SIGKILL, OOM killer, ...) without stopping its child
"""


def test_the_child_exits_when_the_launcher_is_gone(server: str) -> None:
    parent = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PARENT), server],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    child = int(parent.stdout.strip())
    deadline = time.monotonic() + 5
    while not is_gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert is_gone(child)


# A sitecustomize that lets the launcher start but kills its capture child at once.
_DOOMED_CHILD = """\
import runpy, sys
_run = runpy._run_module_as_main

def _run_module_as_main(mod_name, *args, **kwargs):
    if mod_name == "recovery_plugin.http.capture_process":
        sys.stderr.write("injected: the capture child dies\\n")
        sys.exit(3)
    return _run(mod_name, *args, **kwargs)

runpy._run_module_as_main = _run_module_as_main
"""


def test_verify_with_a_dead_capture_child_fails_every_check_and_says_why(
    recovery_sim: SimFactory, run_bundle: Any, tmp_path: Path, assert_valid_report: Any
) -> None:
    sim = recovery_sim()
    sim.seed()
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(_DOOMED_CHILD, encoding="utf-8")
    result = run_bundle(
        "verify", "--config", str(sim.config_path), "--matchup-id", MATCHUP_IDS[0],
        env={"PYTHONPATH": str(inject)},
    )  # fmt: skip

    assert result.exit_code == 1, result.output
    assert result.report, result.output
    assert_valid_report(result.report)
    checks = result.checks()
    assert checks and all(check["outcome"] == "failed" for check in checks)
    for check in checks:
        assert "the capture process exited with code 3 before it finished" in check["message"]
        assert "injected: the capture child dies" in check["message"]
    (capture_step,) = result.report["steps"]
    assert capture_step["status"] == "failed"
