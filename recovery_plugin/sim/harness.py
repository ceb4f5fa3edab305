"""``SimulatedService``: run the simulated service as a subprocess (for the CLI demo and tests).

::

    with SimulatedService(tmp_path / "svc", faults={"endpoints": {"health": {"status": 503}}}) as svc:
        svc.base_url, svc.env, svc.config_path   # runbook TOML written on start
        svc.set_faults(None)                     # picked up by the running server

The server runs as ``sys.executable -m recovery_plugin.sim serve ...`` in its own process group
(its output goes to ``data_dir/server.log``); ``stop()`` terminates the group (KILL after 3 s).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

from recovery_plugin.atomic import write_text_atomic
from recovery_plugin.procgroup import stop_process_group
from recovery_plugin.sim import toml_writer
from recovery_plugin.sim.commands import run_in_own_group
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID, SAMPLE_INGEST_PATH
from recovery_plugin.sim.faults import parse_faults, write_faults
from recovery_plugin.sim.service_runbook import runbook_document

__all__ = ["SimulatedService", "free_port"]

DB_FILENAME = "sim.db"  # must match server.DB_FILENAME (not imported: keep this module light)
STOP_GRACE_SECONDS = 3.0
_PORT_ATTEMPTS = 3


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _terminate_group(proc: subprocess.Popen[bytes]) -> None:
    stop_process_group(proc, STOP_GRACE_SECONDS)


class SimulatedService:
    """The simulated election-poll service, run as a subprocess on ``host:port``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        faults: Mapping[str, Any] | None = None,
        port: int | None = None,
        token: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.db_path = self.data_dir / DB_FILENAME
        self.database_url = f"sqlite:///{self.db_path}"
        self.faults_path = self.data_dir / "faults.json"
        self.config_path = self.data_dir / "recovery.toml"
        self.log_path = self.data_dir / "server.log"
        self.access_log_path = self.data_dir / "access.log"
        """One line per request the server answered (or dropped): time, client, request, status."""
        self.ready_path = self.data_dir / "server.ready.json"
        self.host = host
        self.token = token if token else "sim-" + secrets.token_hex(8)
        if faults is not None:
            parse_faults(faults, "SimulatedService(faults=...)")
        self._faults: dict[str, Any] | None = None if faults is None else dict(faults)
        self._port = port
        self._auto_port = port is None
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # --- locations ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port; picked (free) on first use when not given. Final once ``start()`` returns."""
        if self._port is None:
            self._port = free_port(self.host)
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "INTERNAL_JOB_TOKEN": self.token,
            "RECOVERY_SIM_FAULTS": str(self.faults_path),
        }

    @property
    def faults(self) -> dict[str, Any] | None:
        return None if self._faults is None else dict(self._faults)

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def matchup_url(self, matchup_id: str = DEFAULT_MATCHUP_ID) -> str:
        """The matchup endpoint with the id percent-encoded as ONE path segment."""
        return self.url("/api/v1/matchups/" + quote(matchup_id, safe=""))

    def command_env(self) -> dict[str, str]:
        """``os.environ`` plus ``env`` (what the ingest/reprocess commands need)."""
        return {**os.environ, **self.env}

    # --- lifecycle ----------------------------------------------------------------------------

    def _sync_faults_file(self) -> None:
        """Make the faults file match ``faults`` (counters reset only if the content changes)."""
        wanted = None if self._faults is None else json.dumps(self._faults, sort_keys=True)
        try:
            current = json.dumps(json.loads(self.faults_path.read_text("utf-8")), sort_keys=True)
        except (OSError, ValueError):
            current = None
        if wanted != current:
            write_faults(self.faults_path, self._faults)

    def _argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "recovery_plugin.sim",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--faults",
            str(self.faults_path),
            "--ready-file",
            str(self.ready_path),
        ]

    def _launch(self) -> None:
        self.ready_path.unlink(missing_ok=True)
        env = {**os.environ, "INTERNAL_JOB_TOKEN": self.token, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            log.write(f"--- starting on {self.base_url}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
                self._argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self._finalizer = weakref.finalize(self, _terminate_group, self._proc)

    def start(self, *, wait: bool = True, timeout: float = 15.0) -> Self:
        """Write the faults file and runbook, launch the server; with ``wait``, until ready.

        Raises ``RuntimeError`` (with the tail of ``server.log``) if the server exits or does not
        become ready within ``timeout``. ``wait=False`` returns at once (``start_delay`` faults);
        call ``wait_ready()`` later. Starting a running service does nothing.
        """
        if self.running:
            return self
        self.stop()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._sync_faults_file()
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            self.write_runbook()
            self._launch()
            if not wait:
                return self
            try:
                self.wait_ready(timeout)
                return self
            except RuntimeError as exc:
                in_use = "Address already in use" in str(exc)
                if not (self._auto_port and in_use and attempt < _PORT_ATTEMPTS):
                    raise
                self._port = None
        raise AssertionError("unreachable")

    def _log_tail(self, limit: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no server log)"
        return data[-limit:].decode("utf-8", "replace")

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Block until the server has bound its port (its ready file exists)."""
        deadline = time.monotonic() + timeout
        while True:
            proc = self._proc
            if proc is None:
                raise RuntimeError("simulated service is not started")
            if self.ready_path.exists():
                return
            if proc.poll() is not None:
                code = proc.returncode
                self.stop()
                raise RuntimeError(
                    f"simulated service exited with status {code} during start; "
                    f"server.log tail:\n{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"simulated service not ready within {timeout}s; "
                    f"server.log tail:\n{self._log_tail()}"
                )
            time.sleep(0.02)

    def set_faults(self, faults: Mapping[str, Any] | None) -> None:
        """Validate and atomically rewrite the faults file (``None``: no faults); resets counters.

        A running server applies the new faults from its next request.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_faults(self.faults_path, faults)
        self._faults = None if faults is None else dict(faults)

    def stop(self) -> None:
        """Terminate the server's process group (KILL after 3 s). Idempotent."""
        proc, self._proc = self._proc, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if proc is not None:
            _terminate_group(proc)
        self.ready_path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- runbook and commands -----------------------------------------------------------------

    def runbook(self, **overrides: Any) -> dict[str, Any]:
        """The runbook document (before TOML), with ``overrides`` deep-merged in."""
        return runbook_document(self.base_url, self.env, overrides)

    def write_runbook(self, path: Path | None = None, **overrides: Any) -> Path:
        """Write the runbook TOML (default ``config_path``); ``overrides`` are deep-merged, e.g.
        ``steps={"ingest": {"retries": 2, "backoff": 0.01}}``; a ``None`` value drops a key."""
        target = self.config_path if path is None else Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, toml_writer.dumps(self.runbook(**overrides)))
        return target

    def _run(
        self, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None
    ) -> subprocess.CompletedProcess[str]:
        return run_in_own_group(argv, timeout, {**self.command_env(), **(env or {})})

    def run_ingest(
        self,
        report: Path,
        *extra_args: str,
        timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the ingest command against this service (sample input), in its own process group.

        ``env`` is laid over ``command_env()``; on timeout the whole group is killed and
        ``subprocess.TimeoutExpired`` raised.
        """
        argv = [
            sys.executable, "-m", "recovery_plugin.sim.ingest",
            "--api-base", self.base_url, "--input", str(SAMPLE_INGEST_PATH),
            "--report", str(report), *extra_args,
        ]  # fmt: skip
        return self._run(argv, timeout, env)

    def run_reprocess(
        self,
        output_dir: Path,
        report: Path,
        *extra_args: str,
        mode: str = "apply",
        matchup_id: str | None = DEFAULT_MATCHUP_ID,
        timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the reprocess command against this service's database (like ``run_ingest``)."""
        argv = [sys.executable, "-m", "recovery_plugin.sim.reprocess", "--mode", mode]
        if matchup_id is not None:
            argv += ["--matchup-id", matchup_id]
        argv += ["--output-dir", str(output_dir), "--report", str(report), *extra_args]
        return self._run(argv, timeout, env)

    def seed(self, matchup_ids: tuple[str, ...] | None = None) -> int:
        """Ingest sample data straight into the database (no HTTP); returns the run id."""
        from recovery_plugin.sim import data, store
        from recovery_plugin.sim.records import parse_ingest_payload

        records = parse_ingest_payload(data.build_ingest_payload(matchup_ids))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with store.open_db(self.db_path, create=True) as conn:
            store.init_schema(conn)
            return store.ingest_records(conn, records).run_id
