"""The servers of the wire benchmark, each serving the same SQLite data on 127.0.0.1.

- ``nodelay``: the simulated service itself (stdlib ``ThreadingHTTPServer``, ``TCP_NODELAY``),
  started by ``SimulatedService``;
- ``nagle``: the same server and handler with ``TCP_NODELAY`` off. Its handler writes the headers
  and the body in two ``send`` calls, as production servers behind Nagle's algorithm do, so a
  keep-alive client that delays its ACK waits ~40 ms for the body;
- ``uvicorn``: an ASGI app with the three endpoints (the simulator's own views over the same
  database), one uvicorn worker, its defaults (as the real FastAPI service is deployed).

Nothing here is tuned for the client: each server answers as it would in production.

    python benchmarks/servers.py nagle|uvicorn DATA_DIR PORT
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

HERE = Path(__file__).resolve().parent
START_TIMEOUT_S = 20.0
STOP_GRACE_S = 5.0

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


# --- the ASGI app ------------------------------------------------------------------------------


def make_app(db_path: Path) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """``/health``, ``/api/v1/dashboard/summary`` and ``/api/v1/matchups/{id}`` as the simulator
    answers them (same bodies, same 404s), from one SQLite connection on the event loop."""
    import json

    from recovery_plugin.sim import store, views

    conn = store.connect(db_path)
    prefix = "/api/v1/matchups/"

    def answer(path: str) -> tuple[int, Any]:
        if path == "/health":
            return 200, {"status": "ok"}
        if path == "/api/v1/dashboard/summary":
            return 200, views.summary_body(store.scope_counts(conn), store.latest_updated_at(conn))
        if path.startswith(prefix) and "/" not in path[len(prefix) :] and path != prefix:
            row = store.get_matchup(conn, unquote(path[len(prefix) :]))
            if row is None or row.observation is None:
                return 404, {"detail": "matchup not found"}
            return 200, views.matchup_body(row)
        return 404, {"detail": "Not Found"}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        status, payload = (
            answer(raw_path.decode("latin-1"))
            if scope["method"] == "GET"
            else (404, {"detail": "Not Found"})
        )
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


# --- running one ---------------------------------------------------------------------------------


def serve_nagle(data_dir: Path, port: int) -> None:
    from recovery_plugin.sim import server

    server.SimHandler.disable_nagle_algorithm = False
    token = os.environ.get("INTERNAL_JOB_TOKEN") or "bench-token"
    server.serve(port=port, data_dir=data_dir, token=token, faults_path=data_dir / "none.json")


def serve_uvicorn(data_dir: Path, port: int) -> None:
    import uvicorn

    from recovery_plugin.sim.harness import DB_FILENAME

    app = make_app(data_dir / DB_FILENAME)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("nagle", "uvicorn"):
        print("usage: servers.py nagle|uvicorn DATA_DIR PORT", file=sys.stderr)
        return 2
    kind, data_dir, port = argv[0], Path(argv[1]), int(argv[2])
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    (serve_nagle if kind == "nagle" else serve_uvicorn)(data_dir, port)
    return 0


class ServerProcess:
    """One of the extra servers as a subprocess over a copy of the simulator's database."""

    def __init__(self, kind: str, source_db: Path, work: Path, port: int) -> None:
        from recovery_plugin.sim.harness import DB_FILENAME

        self.kind = kind
        self.port = port
        self.data_dir = work / f"server-{kind}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source_db, self.data_dir / DB_FILENAME)
        self.log = self.data_dir / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [sys.executable, str(HERE / "servers.py"), self.kind, str(self.data_dir)]
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [*argv, str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(self.base_url + "/health", timeout=1.0) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.1)
        tail = self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"the {self.kind} server did not start on {self.base_url}:\n{tail}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
