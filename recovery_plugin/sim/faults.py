"""Fault injection for the simulated service and its two commands.

Where the faults come from
--------------------------
A faults file, named by ``--faults PATH`` (``serve``, ``ingest``, ``reprocess``) or else by the
environment variable ``RECOVERY_SIM_FAULTS``. JSON, or TOML when the name ends in ``.toml``. An
absent file (or no path at all) means no faults. The server re-reads the file whenever its
mtime, size or inode changes, so a test can change faults while the server runs (if the new file
is invalid, the server keeps the previous faults and writes one line to its stderr). The commands
read the file once, at start. An invalid file makes ``serve`` and both commands exit with status
1 (commands) or 2 (``serve``) and a message naming the file and the key.

Schema (a JSON object; every key optional; an unknown key is an error naming it)::

    {
      "ingest":    {"fail_times": N, "always_fail": bool, "hang": bool, "exit_code": int,
                    "delay": seconds, "print_secret": bool},
      "reprocess": {"fail_ids": [ids], "hang_ids": [ids], "delay": seconds},
      "endpoints": {"<target>": {"status": int, "body": any-json, "not_json": bool,
                                 "not_utf8": bool, "delay": seconds, "huge_mb": number,
                                 "drop": bool, "redirect_loop": bool}},
      "service":   {"start_delay": seconds}
    }

Types: counts are integers >= 0, seconds are numbers >= 0, ``status`` is 100..599,
``exit_code`` is 0..255, ``huge_mb`` is > 0 and <= 1024, ids are strings. The schema itself is
:mod:`recovery_plugin.sim.fault_schema`; the invocation counters live in
:mod:`recovery_plugin.sim.fault_state` (both re-exported here).

Ingest command (``python -m recovery_plugin.sim.ingest``), in this order:
- ``delay``: sleep that many seconds first.
- ``hang``: spawn a child ``sys.executable -c "import time; time.sleep(3600)"`` (a grandchild of
  whoever runs the command), write ``{"pid": <command pid>, "child_pid": <child pid>}`` to
  ``<faults dir>/ingest-hang.pids.json``, then sleep forever.
- (the ``INTERNAL_JOB_TOKEN`` check: missing -> exit 1)
- ``print_secret``: print the token's value to stdout (to test that a harness masks it).
- (reading ``--input``: unreadable -> exit 1)
- injected failure: the command writes a failure report (``failure_class`` "injected",
  ``cause_code`` "injected_always_fail" / "injected_fail_times" / "injected_exit_code"), writes
  the dead letter if asked, makes NO request, and exits with ``exit_code`` (default 1). An
  invocation fails when ``always_fail`` is true, or its number is <= ``fail_times``, or
  ``exit_code`` is set without ``fail_times``/``always_fail`` (then every invocation fails).
  ``exit_code: 0`` is allowed: a command that reports failure but exits 0.
- Invocation numbers: every ingest invocation that finds an existing faults file counts (from 1),
  in the state file ``<faults file name>.state.json`` next to the faults file (updated under
  ``fcntl.flock``, shared by all processes). The count restarts at 0 when the ``ingest``
  section changes, and ``write_faults`` (used by ``SimulatedService.set_faults``) deletes the
  state file.

Reprocess command (``python -m recovery_plugin.sim.reprocess``), for ``--matchup-id ID``:
- ``delay``: sleep that many seconds first (every invocation).
- ``hang_ids``: if ID is listed, hang as above; pid file ``<faults dir>/reprocess-hang.pids.json``.
- ``fail_ids``: if ID is listed, write a report with ``status`` "failed" and exit 1 (no change).

Endpoints (``<target>`` is ``health``, ``summary``, ``matchup`` for every matchup, or
``matchup:<exact decoded id>`` for one, which takes precedence over ``matchup``). The ingest job
endpoint has no faults. For a request to a faulted target:
1. ``delay``: sleep that many seconds (then continue; with nothing else the normal answer follows).
2. ``drop``: close the connection without any response.
3. ``redirect_loop``: ``302`` with ``Location`` = the same path, forever.
4. a response with status ``status`` (default 200) and body from at most one of:
   ``body`` (that JSON value), ``not_json`` (``<html>oops</html>``, ``text/html``),
   ``not_utf8`` (``b'{"status": "\\xff\\xfe"}'`` labelled ``application/json``),
   ``huge_mb`` (valid JSON of exactly that many MiB, streamed in 64 KiB chunks with a correct
   ``Content-Length``). ``status`` alone answers ``{"detail": "injected fault"}``.
``drop`` and ``redirect_loop`` exclude every key but ``delay``; the four body keys exclude each
other. ``break_contract`` (with ``delay`` only) answers normally but with a matchup body that
violates ``/openapi.json``: ``value_mid`` as text, ``has_data`` dropped. The ``openapi`` target
is the document itself (``status = 404``: a service that does not serve one).

Service: ``start_delay``: ``serve()`` sleeps that many seconds before binding its port.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from recovery_plugin.atomic import write_json_atomic
from recovery_plugin.sim.fault_schema import (
    ENDPOINT_TARGETS,
    MAX_HUGE_MB,
    NO_FAULTS,
    EndpointFault,
    Faults,
    FaultsError,
    IngestFaults,
    ReprocessFaults,
    ServiceFaults,
    parse_faults,
)
from recovery_plugin.sim.fault_state import (
    hang_pid_path,
    next_invocation,
    reset_state,
    state_path_for,
)
from recovery_plugin.validate import document_keys

__all__ = [
    "ENDPOINT_TARGETS",
    "FAULTS_ENV",
    "MAX_HUGE_MB",
    "NO_FAULTS",
    "EndpointFault",
    "FaultWatcher",
    "Faults",
    "FaultsError",
    "IngestFaults",
    "ReprocessFaults",
    "ServiceFaults",
    "hang_pid_path",
    "load_faults",
    "next_invocation",
    "parse_faults",
    "reset_state",
    "resolve_faults_path",
    "state_path_for",
    "write_faults",
]

FAULTS_ENV = "RECOVERY_SIM_FAULTS"

# The keys each section accepts, as the schema declares them (docs/simulation.md lists them all).
_TOP_KEYS = document_keys(Faults)
_INGEST_KEYS = document_keys(IngestFaults)
_REPROCESS_KEYS = document_keys(ReprocessFaults)
_ENDPOINT_KEYS = document_keys(EndpointFault)
_SERVICE_KEYS = document_keys(ServiceFaults)


def _loads_toml(text: str) -> object:
    import tomllib

    return tomllib.loads(text)


def load_faults(path: Path | None) -> Faults:
    """Read and validate the faults file; no path or an absent file means no faults."""
    if path is None:
        return NO_FAULTS
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return NO_FAULTS
    except OSError as exc:
        raise FaultsError(f"{path}: cannot read faults file: {exc}") from exc
    try:
        text = data.decode("utf-8")
        raw: object = _loads_toml(text) if path.suffix == ".toml" else json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise FaultsError(f"{path}: not valid {kind}: {exc}") from exc
    return parse_faults(raw, str(path))


def resolve_faults_path(cli_value: str | Path | None) -> Path | None:
    """``--faults`` if given, else ``$RECOVERY_SIM_FAULTS`` if non-empty, else None."""
    if cli_value is not None and str(cli_value):
        return Path(cli_value)
    env = os.environ.get(FAULTS_ENV, "")
    return Path(env) if env else None


def write_faults(path: Path, faults: Mapping[str, Any] | None) -> None:
    """Validate and atomically (re)write a JSON faults file, and reset the invocation counters.

    ``None`` removes the file (no faults). Always writes JSON, so ``path`` must not end in
    ``.toml`` (a TOML faults file is read, never written, by this package).
    """
    if path.suffix == ".toml":
        raise FaultsError(f"{path}: write_faults writes JSON; use a .json path")
    if faults is None:
        path.unlink(missing_ok=True)
    else:
        parse_faults(faults, "faults")
        write_json_atomic(path, dict(faults))
    reset_state(path)


# --- the server's live view -------------------------------------------------------------------


class FaultWatcher:
    """The current faults of a running server: re-reads the file when it changes (thread-safe)."""

    def __init__(self, path: Path | None, on_error: Callable[[str], None] | None = None) -> None:
        self._path = path
        self._on_error = on_error
        self._lock = threading.Lock()
        self._key: tuple[int, int, int] | None = None
        self._faults = NO_FAULTS

    @property
    def path(self) -> Path | None:
        return self._path

    def current(self) -> Faults:
        if self._path is None:
            return NO_FAULTS
        try:
            st = self._path.stat()
            key: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            key = None
        with self._lock:
            if key == self._key:
                return self._faults
            self._key = key
            if key is None:
                self._faults = NO_FAULTS
                return self._faults
            try:
                self._faults = load_faults(self._path)
            except FaultsError as exc:
                if self._on_error is not None:
                    self._on_error(f"keeping previous faults: {exc}")
            return self._faults
