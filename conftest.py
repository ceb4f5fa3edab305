"""Fixtures shared by the whole test suite (the QA fixtures come from the ``recovery`` plugin)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from recovery_plugin.pytest_plugin.fixtures import LAUNCHER_ENV
from recovery_plugin.sim.harness import SimulatedService

ROOT = Path(__file__).resolve().parent
KOREAN_ID = "20260603|광역자치단체장|11-000"


def is_gone(pid: int) -> bool:
    """True once ``pid`` has exited: no such process, or a zombie waiting to be reaped.

    A grandchild whose parent was killed is re-parented to PID 1; until PID 1 reaps it (here it
    can take a second or more), it is a zombie (state ``Z``): dead, holding nothing but its pid,
    yet ``os.kill(pid, 0)`` succeeds.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def assert_processes_gone(pids: Iterable[int], deadline_s: float = 5.0) -> None:
    """Every pid exits within the deadline (polled, never a fixed sleep)."""
    pending = set(pids)
    deadline = time.monotonic() + deadline_s
    while pending and time.monotonic() < deadline:
        pending = {pid for pid in pending if not is_gone(pid)}
        if pending:
            time.sleep(0.02)
    assert not pending, f"processes still running after the step was stopped: {sorted(pending)}"


@pytest.fixture(scope="module")
def _seeded_sim_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedService]:
    with SimulatedService(tmp_path_factory.mktemp("seeded-sim")) as service:
        service.seed()
        yield service


@pytest.fixture
def seeded_sim(_seeded_sim_service: SimulatedService) -> Iterator[SimulatedService]:
    """A simulated service with the sample data loaded, shared by a test module; the faults a
    test sets are cleared after it."""
    yield _seeded_sim_service
    _seeded_sim_service.set_faults(None)


@pytest.fixture
def cli_runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def report_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (ROOT / "docs" / "report.schema.json").read_text(encoding="utf-8")
    )
    return schema


@pytest.fixture
def assert_valid_report(report_schema: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """Validate a report against the published JSON Schema (docs/report.schema.json)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        report_schema, format_checker=jsonschema.FormatChecker()
    )

    def check(report: dict[str, Any]) -> None:
        errors = sorted(validator.iter_errors(report), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)

    return check


class CountingServer:
    """A loopback HTTP server that answers 200 ``{}`` and counts the requests it got."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def counting_server() -> Iterator[CountingServer]:
    server = CountingServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join(5)


@pytest.fixture
def plugin_sessions_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytest sessions (pytester) load our plugins only, and the developer's or CI's own
    API_BASE_URL, RECOVERY_* ... do not leak into them (under xdist, autoloaded ones see a worker)."""
    for name in LAUNCHER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PYTEST_PLUGINS", "recovery_plugin.plugin,pytest_jsonreport.plugin")
