"""The simulated service's HTTP app (stdlib ``http.server``, HTTP/1.1 keep-alive) and ``serve()``.

The routes and the endpoint faults are :mod:`recovery_plugin.sim.handler`'s.
Request lines go to ``<data dir>/access.log``, never to the terminal.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from recovery_plugin.atomic import write_json_atomic
from recovery_plugin.sim import store
from recovery_plugin.sim.clock import utc_now_iso
from recovery_plugin.sim.faults import FaultWatcher, load_faults, resolve_faults_path
from recovery_plugin.sim.handler import SimHandler

__all__ = ["DB_FILENAME", "ServeError", "SimServer", "build_server", "serve"]

DB_FILENAME = "sim.db"
ACCESS_LOG_FILENAME = "access.log"
TOKEN_ENV = "INTERNAL_JOB_TOKEN"


class ServeError(Exception):
    """The server cannot start (no token, bad faults file, ...)."""


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # listen backlog: clients open many keep-alive connections at once

    def __init__(
        self,
        address: tuple[str, int],
        *,
        db_path: Path,
        token: str,
        faults: FaultWatcher,
        access_log: TextIO | None = None,
    ) -> None:
        self.db_path = db_path
        self.token = token
        self.faults = faults
        self.access_log = access_log
        self.log_lock = threading.Lock()
        super().__init__(address, SimHandler)

    def log_line(self, line: str) -> None:
        if self.access_log is None:
            return
        with self.log_lock:
            self.access_log.write(line + "\n")
            self.access_log.flush()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        sys.stderr.write(f"[sim] error while handling a request from {client_address}:\n")
        traceback.print_exc(file=sys.stderr)

    def server_close(self) -> None:
        super().server_close()
        if self.access_log is not None:
            with self.log_lock:
                self.access_log.close()
                self.access_log = None


def build_server(
    *,
    data_dir: Path,
    token: str,
    host: str = "127.0.0.1",
    port: int = 0,
    faults_path: Path | None = None,
) -> SimServer:
    """Create the database schema and bind the server (not yet serving). Port 0 picks one."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db_path = data_dir.resolve() / DB_FILENAME
    with store.open_db(db_path, create=True) as conn:
        store.init_schema(conn)

    def report(message: str) -> None:
        print(f"[sim] faults: {message}", file=sys.stderr, flush=True)

    access_log = (data_dir / ACCESS_LOG_FILENAME).open("a", encoding="utf-8")
    try:
        return SimServer(
            (host, port),
            db_path=db_path,
            token=token,
            faults=FaultWatcher(faults_path, on_error=report),
            access_log=access_log,
        )
    except BaseException:
        access_log.close()
        raise


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def serve(
    *,
    port: int,
    data_dir: Path,
    host: str = "127.0.0.1",
    token: str | None = None,
    faults_path: Path | None = None,
    ready_file: Path | None = None,
) -> None:
    """Run the simulated service until SIGTERM/SIGINT (blocking).

    ``token`` defaults to ``$INTERNAL_JOB_TOKEN``; ``faults_path`` to ``$RECOVERY_SIM_FAULTS``.
    Honours the ``service.start_delay`` fault before binding. Once bound, writes ``ready_file``
    (``{"pid", "host", "port", "base_url", "started_at"}``) and removes it on exit.
    Raises ``ServeError`` for a missing token or an invalid faults file, ``OSError`` if the port
    cannot be bound.
    """
    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        raise ServeError(f"no ingest token: pass --token or set {TOKEN_ENV}")
    faults_path = resolve_faults_path(faults_path)
    try:
        start_delay = load_faults(faults_path).service.start_delay
    except ValueError as exc:
        raise ServeError(str(exc)) from exc
    if start_delay:
        print(f"[sim] start_delay fault: waiting {start_delay}s before binding", flush=True)
        time.sleep(start_delay)
    server = build_server(
        data_dir=data_dir, token=token, host=host, port=port, faults_path=faults_path
    )
    bound_host, bound_port = server.server_address[:2]
    base_url = f"http://{host}:{bound_port}"
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_exit)
    try:
        if ready_file is not None:
            write_json_atomic(
                ready_file,
                {
                    "pid": os.getpid(),
                    "host": str(bound_host),
                    "port": int(bound_port),
                    "base_url": base_url,
                    "started_at": utc_now_iso(),
                },
            )
        print(f"[sim] serving {base_url} (data dir {data_dir})", flush=True)
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
