"""The simulated service's request handler: routing, endpoint faults, and the four endpoints.

Routes: ``GET /health``, ``GET /api/v1/dashboard/summary``, ``GET /api/v1/matchups/{id}`` (the id
is ONE percent-encoded path segment, so ``%2F`` belongs to the id), ``POST /api/v1/jobs/ingest``
(bearer token). Everything else is ``404 {"detail": "Not Found"}``. Every response carries a
``Content-Length``; endpoint faults (see ``faults``) are applied before the real handler.
"""

from __future__ import annotations

import hmac
import json
import sqlite3
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import unquote

from recovery_plugin.sim import store, views
from recovery_plugin.sim.clock import utc_now_iso
from recovery_plugin.sim.faults import EndpointFault
from recovery_plugin.sim.records import IngestPayloadError, parse_ingest_payload

if TYPE_CHECKING:
    from pathlib import Path

    from recovery_plugin.sim.faults import FaultWatcher


class ServedBy(Protocol):
    """What the handler needs of its server (:class:`recovery_plugin.sim.server.SimServer`)."""

    db_path: Path
    token: str
    faults: FaultWatcher

    def log_line(self, line: str) -> None: ...


__all__ = ["ServedBy", "SimHandler"]

MAX_BODY_BYTES = 16 * 1024 * 1024
HUGE_CHUNK = 64 * 1024
MATCHUP_PREFIX = "/api/v1/matchups/"
JSON_TYPE = "application/json; charset=utf-8"
NOT_UTF8_BODY = b'{"status": "\xff\xfe"}'
NOT_JSON_BODY = b"<html>oops</html>"


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server_version = "recovery-sim/0.1"
    sys_version = ""

    _conn: sqlite3.Connection | None = None

    @property
    def sim(self) -> ServedBy:
        return cast("ServedBy", self.server)

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

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch

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
