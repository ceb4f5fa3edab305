"""The simulated service's HTTP app (stdlib ``http.server``, HTTP/1.1 keep-alive) and ``serve()``.

Routes: ``GET /health``, ``GET /api/v1/dashboard/summary``, ``GET /api/v1/matchups/{id}`` (the id
is ONE percent-encoded path segment, so ``%2F`` belongs to the id), ``POST /api/v1/jobs/ingest``
(bearer token). Everything else is ``404 {"detail": "Not Found"}``. Every response carries a
``Content-Length``; endpoint faults (see ``faults``) are applied before the real handler.
Request lines go to ``<data dir>/access.log``, never to the terminal.
"""

from __future__ import annotations

import hmac
import json
import os
import signal
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, TextIO, cast
from urllib.parse import unquote

from recovery_plugin.atomic import write_json_atomic
from recovery_plugin.sim import store, views
from recovery_plugin.sim.clock import utc_now_iso
from recovery_plugin.sim.faults import EndpointFault, FaultWatcher, load_faults, resolve_faults_path
from recovery_plugin.sim.records import IngestPayloadError, parse_ingest_payload

__all__ = ["DB_FILENAME", "ServeError", "SimServer", "build_server", "serve"]

DB_FILENAME = "sim.db"
ACCESS_LOG_FILENAME = "access.log"
TOKEN_ENV = "INTERNAL_JOB_TOKEN"
MAX_BODY_BYTES = 16 * 1024 * 1024
HUGE_CHUNK = 64 * 1024
MATCHUP_PREFIX = "/api/v1/matchups/"
JSON_TYPE = "application/json; charset=utf-8"
NOT_UTF8_BODY = b'{"status": "\xff\xfe"}'
NOT_JSON_BODY = b"<html>oops</html>"


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


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server_version = "recovery-sim/0.1"
    sys_version = ""

    _conn: sqlite3.Connection | None = None

    @property
    def sim(self) -> SimServer:
        return cast(SimServer, self.server)

    def _db(self) -> sqlite3.Connection:
        """One database connection per client connection, reused by its keep-alive requests
        (as a real service's connection pool would); closed when the client goes."""
        if self._conn is None:
            self._conn = store.connect(self.sim.db_path)
        return self._conn

    def _drop_db(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._drop_db()

    def log_message(self, format: str, *args: Any) -> None:
        self.sim.log_line(f"{utc_now_iso()} {self.address_string()} {format % args}")

    # --- plumbing ---------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering an unacceptable one (connection closed)."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._json(411, {"detail": "Content-Length required"})
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._json(413 if length > 0 else 400, {"detail": "bad request body length"})
            return None
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes | Iterable[bytes],
        content_type: str = JSON_TYPE,
        *,
        length: int | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        if isinstance(body, bytes):
            length = len(body)
            chunks: Iterable[bytes] = (body,)
        else:
            chunks = body
        assert length is not None
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        for chunk in chunks:
            self.wfile.write(chunk)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))

    # --- dispatch ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path = self.path.split("?", 1)[0]
        try:
            if self.command == "POST" and path == "/api/v1/jobs/ingest":
                self._ingest(body)
            elif self.command != "GET":
                self._json(404, {"detail": "Not Found"})
            elif path == "/health":
                self._guarded("health", None, lambda: self._json(200, {"status": "ok"}))
            elif path == "/api/v1/dashboard/summary":
                self._guarded("summary", None, self._summary)
            elif path.startswith(MATCHUP_PREFIX) and "/" not in path[len(MATCHUP_PREFIX) :]:
                segment = path[len(MATCHUP_PREFIX) :]
                if not segment:
                    self._json(404, {"detail": "Not Found"})
                    return
                matchup_id = unquote(segment)
                self._guarded("matchup", matchup_id, lambda: self._matchup(matchup_id))
            else:
                self._json(404, {"detail": "Not Found"})
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _guarded(self, target: str, matchup_id: str | None, handler: Any) -> None:
        fault = self.sim.faults.current().endpoint(target, matchup_id)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.replaces_response:
                self._inject(fault)
                return
        try:
            handler()
        except (sqlite3.Error, store.StoreError) as exc:
            self._drop_db()  # a broken connection is not reused
            self._json(503, {"detail": f"database unavailable: {exc}"})

    # --- faults -----------------------------------------------------------------------------

    def _inject(self, fault: EndpointFault) -> None:
        if fault.drop:
            self.close_connection = True
            self.log_message('"%s" dropped (injected)', self.requestline)
            return
        if fault.redirect_loop:
            self._send(302, b"", "text/plain; charset=utf-8", headers=[("Location", self.path)])
            return
        status = fault.status if fault.status is not None else 200
        if fault.not_json:
            self._send(status, NOT_JSON_BODY, "text/html; charset=utf-8")
        elif fault.not_utf8:
            self._send(status, NOT_UTF8_BODY, "application/json")
        elif fault.huge_mb is not None:
            self._send_huge(status, int(fault.huge_mb * 1024 * 1024))
        elif fault.has_body:
            self._json(status, fault.body)
        else:
            self._json(status, {"detail": "injected fault"})

    def _send_huge(self, status: int, total: int) -> None:
        prefix = b'{"detail": "injected huge body", "padding": "'
        suffix = b'"}'
        padding = max(0, total - len(prefix) - len(suffix))
        block = b"x" * HUGE_CHUNK

        def chunks() -> Iterable[bytes]:
            yield prefix
            left = padding
            while left > 0:
                size = min(left, HUGE_CHUNK)
                yield block if size == HUGE_CHUNK else block[:size]
                left -= size
            yield suffix

        self._send(status, chunks(), length=len(prefix) + padding + len(suffix))

    # --- endpoints --------------------------------------------------------------------------

    def _summary(self) -> None:
        conn = self._db()
        counts = store.scope_counts(conn)
        as_of = store.latest_updated_at(conn)
        self._json(200, views.summary_body(counts, as_of))

    def _matchup(self, matchup_id: str) -> None:
        row = store.get_matchup(self._db(), matchup_id)
        if row is None or row.observation is None:
            self._json(404, {"detail": "matchup not found"})
        else:
            self._json(200, views.matchup_body(row))

    def _ingest(self, body: bytes) -> None:
        auth = self.headers.get("Authorization", "")
        scheme, _, presented = auth.partition(" ")
        expected = self.sim.token.encode("utf-8")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode("utf-8"), expected
        ):
            self._json(401, {"detail": "invalid token"})
            return
        try:
            records = parse_ingest_payload(json.loads(body.decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as exc:
            detail = str(exc) if isinstance(exc, IngestPayloadError) else f"invalid JSON: {exc}"
            self._json(422, {"detail": detail})
            return
        try:
            with store.open_db(self.sim.db_path) as conn:
                result = store.ingest_records(conn, records)
        except (sqlite3.Error, store.StoreError) as exc:
            self._json(503, {"detail": f"database unavailable: {exc}"})
            return
        self._json(
            200,
            {
                "run_id": result.run_id,
                "status": result.status,
                "processed_count": result.processed_count,
            },
        )


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
