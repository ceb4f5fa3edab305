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
``exit_code`` is 0..255, ``huge_mb`` is > 0 and <= 1024, ids are strings.

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
other.

Service: ``start_delay``: ``serve()`` sleeps that many seconds before binding its port.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from recovery_plugin.atomic import write_json_atomic

__all__ = [
    "FAULTS_ENV",
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
ENDPOINT_TARGETS = ("health", "summary", "matchup")
MAX_HUGE_MB = 1024


class FaultsError(ValueError):
    """The faults file is unreadable or invalid; the message names the file and the key."""


@dataclass(frozen=True)
class IngestFaults:
    fail_times: int = 0
    always_fail: bool = False
    hang: bool = False
    exit_code: int | None = None
    delay: float = 0.0
    print_secret: bool = False

    def injected_failure(self, invocation: int) -> str | None:
        """The cause code if invocation number ``invocation`` (from 1) must fail, else None."""
        if self.always_fail:
            return "injected_always_fail"
        if 0 < invocation <= self.fail_times:
            return "injected_fail_times"
        if self.exit_code is not None and self.fail_times == 0:
            return "injected_exit_code"
        return None

    @property
    def failure_exit_code(self) -> int:
        return 1 if self.exit_code is None else self.exit_code


@dataclass(frozen=True)
class ReprocessFaults:
    fail_ids: frozenset[str] = frozenset()
    hang_ids: frozenset[str] = frozenset()
    delay: float = 0.0


_NO_BODY = object()


@dataclass(frozen=True)
class EndpointFault:
    status: int | None = None
    body: Any = _NO_BODY
    not_json: bool = False
    not_utf8: bool = False
    delay: float = 0.0
    huge_mb: float | None = None
    drop: bool = False
    redirect_loop: bool = False

    @property
    def has_body(self) -> bool:
        return self.body is not _NO_BODY

    @property
    def replaces_response(self) -> bool:
        """True when the fault answers instead of the real handler (anything but a bare delay)."""
        return (
            self.drop
            or self.redirect_loop
            or self.status is not None
            or self.has_body
            or self.not_json
            or self.not_utf8
            or self.huge_mb is not None
        )


@dataclass(frozen=True)
class ServiceFaults:
    start_delay: float = 0.0


@dataclass(frozen=True)
class Faults:
    ingest: IngestFaults = field(default_factory=IngestFaults)
    reprocess: ReprocessFaults = field(default_factory=ReprocessFaults)
    endpoints: Mapping[str, EndpointFault] = field(default_factory=dict)
    service: ServiceFaults = field(default_factory=ServiceFaults)

    def endpoint(self, target: str, matchup_id: str | None = None) -> EndpointFault | None:
        """The fault for ``target``; for ``matchup``, ``matchup:<id>`` wins over ``matchup``."""
        if target == "matchup" and matchup_id is not None:
            specific = self.endpoints.get(f"matchup:{matchup_id}")
            if specific is not None:
                return specific
        return self.endpoints.get(target)


NO_FAULTS = Faults()


# --- validation -------------------------------------------------------------------------------


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> FaultsError:
        return FaultsError(f"{self.source}: {key}: {problem}")

    def table(self, value: object, key: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be an object, got {type(value).__name__}")
        for name in value:
            if name not in allowed:
                full = f"{key}.{name}" if key else str(name)
                raise FaultsError(
                    f"{self.source}: unknown key {full!r} (allowed: {', '.join(allowed)})"
                )
        return value

    def boolean(self, table: Mapping[str, Any], name: str, key: str) -> bool:
        value = table.get(name, False)
        if not isinstance(value, bool):
            raise self.fail(f"{key}.{name}", f"must be true or false, got {value!r}")
        return value

    def seconds(self, table: Mapping[str, Any], name: str, key: str) -> float:
        value = table.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{key}.{name}", f"must be a number of seconds, got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise self.fail(f"{key}.{name}", f"must be a finite number >= 0, got {value!r}")
        return float(value)

    def integer(
        self, table: Mapping[str, Any], name: str, key: str, low: int, high: int | None
    ) -> int | None:
        if name not in table:
            return None
        value = table[name]
        too_high = high is not None and isinstance(value, int) and value > high
        if isinstance(value, bool) or not isinstance(value, int) or value < low or too_high:
            bounds = f"{low}..{high}" if high is not None else f">= {low}"
            raise self.fail(f"{key}.{name}", f"must be an integer {bounds}, got {value!r}")
        return value

    def ids(self, table: Mapping[str, Any], name: str, key: str) -> frozenset[str]:
        value = table.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{key}.{name}", f"must be a list of id strings, got {value!r}")
        return frozenset(value)


_INGEST_KEYS = ("fail_times", "always_fail", "hang", "exit_code", "delay", "print_secret")
_REPROCESS_KEYS = ("fail_ids", "hang_ids", "delay")
_ENDPOINT_KEYS = (
    "status",
    "body",
    "not_json",
    "not_utf8",
    "delay",
    "huge_mb",
    "drop",
    "redirect_loop",
)
_SERVICE_KEYS = ("start_delay",)
_TOP_KEYS = ("ingest", "reprocess", "endpoints", "service")


def _ingest(check: _Checker, raw: object) -> IngestFaults:
    table = check.table(raw, "ingest", _INGEST_KEYS)
    return IngestFaults(
        fail_times=check.integer(table, "fail_times", "ingest", 0, None) or 0,
        always_fail=check.boolean(table, "always_fail", "ingest"),
        hang=check.boolean(table, "hang", "ingest"),
        exit_code=check.integer(table, "exit_code", "ingest", 0, 255),
        delay=check.seconds(table, "delay", "ingest"),
        print_secret=check.boolean(table, "print_secret", "ingest"),
    )


def _reprocess(check: _Checker, raw: object) -> ReprocessFaults:
    table = check.table(raw, "reprocess", _REPROCESS_KEYS)
    return ReprocessFaults(
        fail_ids=check.ids(table, "fail_ids", "reprocess"),
        hang_ids=check.ids(table, "hang_ids", "reprocess"),
        delay=check.seconds(table, "delay", "reprocess"),
    )


def _endpoint(check: _Checker, raw: object, key: str) -> EndpointFault:
    table = check.table(raw, key, _ENDPOINT_KEYS)
    huge: float | None = None
    if "huge_mb" in table:
        value = table["huge_mb"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise check.fail(f"{key}.huge_mb", f"must be a number of MiB, got {value!r}")
        if not (0 < value <= MAX_HUGE_MB):
            raise check.fail(f"{key}.huge_mb", f"must be > 0 and <= {MAX_HUGE_MB}, got {value!r}")
        huge = float(value)
    fault = EndpointFault(
        status=check.integer(table, "status", key, 100, 599),
        body=table.get("body", _NO_BODY),
        not_json=check.boolean(table, "not_json", key),
        not_utf8=check.boolean(table, "not_utf8", key),
        delay=check.seconds(table, "delay", key),
        huge_mb=huge,
        drop=check.boolean(table, "drop", key),
        redirect_loop=check.boolean(table, "redirect_loop", key),
    )
    bodies = [
        name
        for name, on in (
            ("body", fault.has_body),
            ("not_json", fault.not_json),
            ("not_utf8", fault.not_utf8),
            ("huge_mb", huge is not None),
        )
        if on
    ]
    if len(bodies) > 1:
        raise check.fail(key, f"{' and '.join(bodies)} exclude each other; choose one")
    for exclusive in ("drop", "redirect_loop"):
        if table.get(exclusive) is True:
            others = sorted(set(table) - {exclusive, "delay"})
            if others:
                raise check.fail(key, f"{exclusive} cannot be combined with {', '.join(others)}")
    return fault


def _endpoints(check: _Checker, raw: object) -> dict[str, EndpointFault]:
    if not isinstance(raw, Mapping):
        raise check.fail("endpoints", f"must be an object, got {type(raw).__name__}")
    result: dict[str, EndpointFault] = {}
    for target, spec in raw.items():
        name = str(target)
        base = name.split(":", 1)[0] if name.startswith("matchup:") else name
        if base not in ENDPOINT_TARGETS or name == "matchup:":
            raise FaultsError(
                f"{check.source}: unknown endpoint target {name!r} "
                "(allowed: health, summary, matchup, matchup:<id>)"
            )
        result[name] = _endpoint(check, spec, f"endpoints.{name}")
    return result


def parse_faults(raw: object, source: str = "faults") -> Faults:
    """Validate a faults document; ``source`` (usually the file path) starts every error message."""
    check = _Checker(source)
    table = check.table(raw, "", _TOP_KEYS)
    service = check.table(table.get("service", {}), "service", _SERVICE_KEYS)
    return Faults(
        ingest=_ingest(check, table.get("ingest", {})),
        reprocess=_reprocess(check, table.get("reprocess", {})),
        endpoints=_endpoints(check, table.get("endpoints", {})),
        service=ServiceFaults(start_delay=check.seconds(service, "start_delay", "service")),
    )


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
        raw: object = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
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


# --- cross-process state ----------------------------------------------------------------------


def state_path_for(faults_path: Path) -> Path:
    return faults_path.with_name(faults_path.name + ".state.json")


def hang_pid_path(faults_path: Path, command: str) -> Path:
    """``<faults dir>/<command>-hang.pids.json``."""
    return faults_path.with_name(f"{command}-hang.pids.json")


def reset_state(faults_path: Path) -> None:
    state_path_for(faults_path).unlink(missing_ok=True)


def next_invocation(faults_path: Path, command: str, config: IngestFaults | ReprocessFaults) -> int:
    """Count one invocation of ``command`` and return its number (1 for the first).

    The count lives in the state file next to the faults file, is updated under an exclusive
    ``flock``, and restarts when ``config`` (the command's fault section) changes.
    """
    key = json.dumps(asdict(config), sort_keys=True, default=sorted)
    fd = os.open(state_path_for(faults_path), os.O_RDWR | os.O_CREAT, 0o644)
    with os.fdopen(fd, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            state = json.loads(handle.read() or "{}")
        except ValueError:
            state = {}
        if not isinstance(state, dict):
            state = {}
        entry = state.get(command)
        count = 0
        if isinstance(entry, dict) and entry.get("config") == key:
            previous = entry.get("invocations")
            count = previous if isinstance(previous, int) else 0
        count += 1
        state[command] = {"config": key, "invocations": count}
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(state, indent=2, sort_keys=True))
        handle.flush()
        os.fsync(handle.fileno())
    return count


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
