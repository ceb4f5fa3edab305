"""SQLite storage of the simulated service: schema, ``DATABASE_URL`` parsing and every query.

Tables:
- ``matchups(matchup_id, payload, updated_at)`` — payload is the latest ingested record (JSON);
- ``observations(observation_id, observation_key, matchup_id, poll_fingerprint, option_count,
  updated_at)`` — one row per poll observation, upserted by ``observation_key``;
- ``ingest_runs(run_id, run_type, started_at, finished_at, status, processed_count, error_count)``
  — ingest job runs (``run_type`` "ingest") and reprocess applies ("reprocess").

The database runs in WAL mode with a busy timeout so the server and the commands can use it at
the same time. Commands open a connection per use (``open_db``); the server keeps one per client connection.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from recovery_plugin.records import dataclass
from recovery_plugin.sim.clock import later_than, utc_now_iso
from recovery_plugin.sim.records import IngestRecord

__all__ = [
    "SNAPSHOT_COUNT_KEYS",
    "MatchupRow",
    "ObservationRow",
    "RunResult",
    "StoreError",
    "connect",
    "find_observations",
    "get_matchup",
    "ingest_records",
    "init_schema",
    "latest_updated_at",
    "open_db",
    "parse_database_url",
    "reprocess_observation",
    "scope_counts",
    "snapshot",
]

BUSY_TIMEOUT_MS = 10_000
_SQLITE_PREFIX = "sqlite:///"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS matchups (
    matchup_id TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS observations (
    observation_id INTEGER PRIMARY KEY AUTOINCREMENT,
    observation_key TEXT NOT NULL UNIQUE,
    matchup_id TEXT NOT NULL REFERENCES matchups(matchup_id),
    poll_fingerprint TEXT NOT NULL,
    option_count INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_observations_matchup ON observations(matchup_id);
CREATE INDEX IF NOT EXISTS ix_observations_fingerprint ON observations(poll_fingerprint);
CREATE TABLE IF NOT EXISTS ingest_runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_type TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    processed_count INTEGER NOT NULL DEFAULT 0,
    error_count INTEGER NOT NULL DEFAULT 0
);
"""

SNAPSHOT_COUNT_KEYS = (
    "observation_count",
    "distinct_observation_keys",
    "distinct_poll_fingerprints",
    "distinct_matchup_ids",
    "option_count",
)


class StoreError(Exception):
    """A configuration problem with the database (bad ``DATABASE_URL``, missing file)."""


@dataclass(frozen=True)
class ObservationRow:
    observation_id: int
    observation_key: str
    matchup_id: str
    poll_fingerprint: str
    option_count: int
    updated_at: str


@dataclass(frozen=True)
class MatchupRow:
    matchup_id: str
    payload: dict[str, Any]
    observation: ObservationRow | None
    """The latest observation of the matchup (by ``updated_at``), if any."""


@dataclass(frozen=True)
class RunResult:
    run_id: int
    status: str
    processed_count: int
    error_count: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "processed_count": self.processed_count,
            "error_count": self.error_count,
            "status": self.status,
        }


def parse_database_url(url: str) -> Path:
    """``sqlite:////abs/path/sim.db`` -> ``Path("/abs/path/sim.db")``; else ``StoreError``."""
    if not url.startswith(_SQLITE_PREFIX):
        scheme = url.split(":", 1)[0] if ":" in url else url
        raise StoreError(
            f"unsupported DATABASE_URL {scheme!r}: the simulated service only accepts "
            "sqlite:////absolute/path/sim.db"
        )
    rest = url[len(_SQLITE_PREFIX) :]
    if not rest.startswith("/") or "?" in rest or "#" in rest:
        raise StoreError(
            f"DATABASE_URL must name an absolute database file (sqlite:////abs/path/sim.db), "
            f"got {url!r}"
        )
    return Path(rest)


def connect(path: Path, *, create: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (the caller closes it); ``create`` allows a new file."""
    if not create and not path.is_file():
        raise StoreError(f"database file does not exist: {path} (has the service been started?)")
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


@contextlib.contextmanager
def open_db(path: Path, *, create: bool = False) -> Iterator[sqlite3.Connection]:
    """Open (and always close) a connection in autocommit mode; ``create`` allows a new file."""
    conn = connect(path, create=create)
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def init_schema(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(_SCHEMA)


def _observation(row: Sequence[Any]) -> ObservationRow:
    return ObservationRow(
        observation_id=int(row[0]),
        observation_key=str(row[1]),
        matchup_id=str(row[2]),
        poll_fingerprint=str(row[3]),
        option_count=int(row[4]),
        updated_at=str(row[5]),
    )


_OBS_COLUMNS = (
    "observation_id, observation_key, matchup_id, poll_fingerprint, option_count, updated_at"
)


def ingest_records(conn: sqlite3.Connection, records: Sequence[IngestRecord]) -> RunResult:
    """Upsert matchups and observations in one transaction and record an ingest run."""
    started = utc_now_iso()
    with _transaction(conn):
        for record in records:
            now = utc_now_iso()
            payload = json.dumps(record.payload, ensure_ascii=False, sort_keys=True)
            conn.execute(
                "INSERT INTO matchups (matchup_id, payload, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(matchup_id) DO UPDATE SET payload = excluded.payload, "
                "updated_at = excluded.updated_at",
                (record.matchup_id, payload, now),
            )
            conn.execute(
                "INSERT INTO observations (observation_key, matchup_id, poll_fingerprint, "
                "option_count, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(observation_key) DO UPDATE SET matchup_id = excluded.matchup_id, "
                "poll_fingerprint = excluded.poll_fingerprint, "
                "option_count = excluded.option_count, updated_at = excluded.updated_at",
                (
                    record.observation_key,
                    record.matchup_id,
                    record.poll_fingerprint,
                    record.option_count,
                    now,
                ),
            )
        cursor = conn.execute(
            "INSERT INTO ingest_runs (run_type, started_at, finished_at, status, processed_count) "
            "VALUES ('ingest', ?, ?, 'success', ?)",
            (started, utc_now_iso(), len(records)),
        )
    run_id = cursor.lastrowid
    assert run_id is not None
    return RunResult(run_id, "success", len(records), 0)


def get_matchup(conn: sqlite3.Connection, matchup_id: str) -> MatchupRow | None:
    row = conn.execute(
        "SELECT payload FROM matchups WHERE matchup_id = ?", (matchup_id,)
    ).fetchone()
    if row is None:
        return None
    obs = conn.execute(
        f"SELECT {_OBS_COLUMNS} FROM observations WHERE matchup_id = ? "
        "ORDER BY updated_at DESC, observation_id DESC LIMIT 1",
        (matchup_id,),
    ).fetchone()
    payload = json.loads(row[0])
    if not isinstance(payload, dict):
        raise sqlite3.DatabaseError(f"corrupt payload for matchup {matchup_id!r}")
    return MatchupRow(matchup_id, payload, None if obs is None else _observation(obs))


def scope_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Matchups having an observation, by audience scope (national/regional/local/unknown)."""
    counts = {"national": 0, "regional": 0, "local": 0, "unknown": 0}
    rows = conn.execute(
        "SELECT json_extract(m.payload, '$.observation.audience_scope') FROM matchups m "
        "WHERE EXISTS (SELECT 1 FROM observations o WHERE o.matchup_id = m.matchup_id)"
    ).fetchall()
    for (scope,) in rows:
        key = scope if scope in counts else "unknown"
        counts[key] += 1
    return counts


def latest_updated_at(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT MAX(updated_at) FROM observations").fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _where(matchup_id: str | None, poll_fingerprint: str | None) -> tuple[str, list[str]]:
    clauses: list[str] = []
    params: list[str] = []
    if matchup_id is not None:
        clauses.append("matchup_id = ?")
        params.append(matchup_id)
    if poll_fingerprint is not None:
        clauses.append("poll_fingerprint = ?")
        params.append(poll_fingerprint)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def find_observations(
    conn: sqlite3.Connection, matchup_id: str | None, poll_fingerprint: str | None
) -> list[ObservationRow]:
    """Observations matching the filter, latest first."""
    where, params = _where(matchup_id, poll_fingerprint)
    rows = conn.execute(
        f"SELECT {_OBS_COLUMNS} FROM observations{where} "
        "ORDER BY updated_at DESC, observation_id DESC",
        params,
    ).fetchall()
    return [_observation(r) for r in rows]


def snapshot(
    conn: sqlite3.Connection, matchup_id: str | None, poll_fingerprint: str | None
) -> dict[str, Any]:
    """Counts and ids of the observations matching the filter (the reprocess report's snapshot)."""
    rows = find_observations(conn, matchup_id, poll_fingerprint)
    latest = rows[0] if rows else None
    return {
        "observed_at": utc_now_iso(),
        "filter": {"matchup_id": matchup_id, "poll_fingerprint": poll_fingerprint},
        "observation_count": len(rows),
        "distinct_observation_keys": len({r.observation_key for r in rows}),
        "distinct_poll_fingerprints": len({r.poll_fingerprint for r in rows}),
        "distinct_matchup_ids": len({r.matchup_id for r in rows}),
        "option_count": sum(r.option_count for r in rows),
        "latest_observation_id": None if latest is None else latest.observation_id,
        "latest_updated_at": None if latest is None else latest.updated_at,
        "observation_ids": sorted(r.observation_id for r in rows),
    }


def reprocess_observation(conn: sqlite3.Connection, observation_id: int) -> RunResult:
    """Re-derive one observation from its matchup payload, bump ``updated_at``, record a run."""
    started = utc_now_iso()
    with _transaction(conn):
        row = conn.execute(
            "SELECT o.updated_at, m.payload FROM observations o "
            "JOIN matchups m ON m.matchup_id = o.matchup_id WHERE o.observation_id = ?",
            (observation_id,),
        ).fetchone()
        processed = 0
        if row is not None:
            payload = json.loads(row[1])
            option_count = sum(len(s.get("options", [])) for s in payload.get("scenarios", []))
            conn.execute(
                "UPDATE observations SET option_count = ?, updated_at = ? WHERE observation_id = ?",
                (option_count, later_than(str(row[0])), observation_id),
            )
            processed = 1
        status = "success" if processed else "failed"
        cursor = conn.execute(
            "INSERT INTO ingest_runs (run_type, started_at, finished_at, status, processed_count, "
            "error_count) VALUES ('reprocess', ?, ?, ?, ?, ?)",
            (started, utc_now_iso(), status, processed, 1 - processed),
        )
    run_id = cursor.lastrowid
    assert run_id is not None
    return RunResult(run_id, status, processed, 1 - processed)
