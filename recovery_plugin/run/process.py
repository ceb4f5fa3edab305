"""Run one command: argv list (never a shell), own process group, timeout, streamed redacted log.

Output is streamed line by line to a bounded log file (memory stays flat whatever the step
prints); only a short tail is kept for the report. A step past its timeout, cancelled (Ctrl-C,
SIGTERM), or whose log cannot be written (a full disk) is stopped with its whole process group:
SIGTERM, then SIGKILL after a grace period. The wait never depends on the output pipe closing:
once the command has exited, the pipe gets a short grace and is then abandoned. Descendants that
left the group (``setsid``) are found by an environment marker and ``/proc`` and stopped too.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import secrets
import select
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

from recovery_plugin.clock import now_iso
from recovery_plugin.procgroup import (
    become_subreaper,
    find_descendants,
    stop_descendants,
    stop_process_group,
)
from recovery_plugin.records import dataclass
from recovery_plugin.redact import Redactor
from recovery_plugin.run.steplog import DEFAULT_MAX_LOG_BYTES, Opener, StepLog, open_binary

__all__ = [
    "STEP_MARKER_ENV",
    "GroupHook",
    "ProcessResult",
    "no_group_hook",
    "now_iso",
    "run_process",
]

TAIL_LINES = 20
TAIL_LINE_CHARS = 500
STEP_MARKER_ENV = "RECOVERY_BUNDLE_STEP"
_READ_BYTES = 64 * 1024
_POLL_SECONDS = 0.05
# Seconds the output pipe may stay open once the command has exited (a descendant holding it).
_DRAIN_SECONDS = 2.0
# Once told to stop, the output already in the pipe is still logged, up to this much.
_FINAL_DRAIN_BYTES = 1024 * 1024

GroupHook = Callable[[int], None]


def no_group_hook(pgid: int) -> None:
    return None


@dataclass
class ProcessResult:
    exit_code: int | None
    started_at: str
    duration_s: float
    log_path: Path
    timed_out: bool = False
    cancelled: bool = False
    error: str | None = None
    tail: list[str] = field(default_factory=list)
    log_failed: bool = False
    """The log could not be written (e.g. no space left): the step was stopped."""
    log_truncated_at: int | None = None
    stopped: list[int] = field(default_factory=list)
    """Pids of descendants still alive when the step ended, stopped by the harness."""
    left_running: list[int] = field(default_factory=list)
    """Pids of descendants the harness could not stop."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not (self.timed_out or self.cancelled or self.error)


class _Tail:
    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=TAIL_LINES)

    def add(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if len(line) > TAIL_LINE_CHARS:
            line = line[:TAIL_LINE_CHARS] + f"... [{len(line) - TAIL_LINE_CHARS} more characters]"
        self.lines.append(line)


def run_process(
    argv: Sequence[str],
    *,
    log_path: Path,
    timeout: float,
    redactor: Redactor,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    kill_grace: float = 5.0,
    cancel: threading.Event | None = None,
    max_log_bytes: int = DEFAULT_MAX_LOG_BYTES,
    on_group_start: GroupHook = no_group_hook,
    on_group_end: GroupHook = no_group_hook,
    open_log: Opener = open_binary,
) -> ProcessResult:
    """Run ``argv`` to completion, timeout or cancellation; never raises for the command's faults.

    ``on_group_start`` / ``on_group_end`` get the step's process group id (the output lock
    records it, so a new apply waits for a step whose launcher was killed)."""
    cancel = cancel or threading.Event()
    started_at = now_iso()
    start = time.monotonic()
    tail = _Tail()
    log = StepLog(log_path, max_bytes=max_log_bytes, opener=open_log)
    if not log.open(f"$ {redactor.text(_display(argv))}\n"):
        log.close()  # it may hold the emptied log it reopened to say why
        message = str(log.error)
        tail.add(message)
        return _result(None, started_at, start, log, tail, error=message, log_failed=True)
    try:
        return _run_logged(
            argv, log, tail, started_at, start, timeout=timeout, redactor=redactor, cwd=cwd,
            env=env, kill_grace=kill_grace, cancel=cancel, on_group_start=on_group_start,
            on_group_end=on_group_end,
        )  # fmt: skip
    finally:
        log.close()


def _run_logged(
    argv: Sequence[str],
    log: StepLog,
    tail: _Tail,
    started_at: str,
    start: float,
    *,
    timeout: float,
    redactor: Redactor,
    cwd: Path | None,
    env: Mapping[str, str] | None,
    kill_grace: float,
    cancel: threading.Event,
    on_group_start: GroupHook,
    on_group_end: GroupHook,
) -> ProcessResult:
    become_subreaper()
    marker = f"{STEP_MARKER_ENV}={os.getpid()}-{secrets.token_hex(8)}"
    child_env = dict(os.environ if env is None else env)
    child_env[STEP_MARKER_ENV] = marker.split("=", 1)[1]
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(  # noqa: S603 - an argv list from the runbook, no shell
            list(argv),
            cwd=cwd,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
            start_new_session=True,
        )
    except OSError as exc:
        os.close(read_fd)
        message = _spawn_error(argv, cwd, exc)
        log.write(f"[recovery-bundle] {message}\n")
        tail.add(message)
        code = 127 if isinstance(exc, FileNotFoundError) else 126
        return _result(code, started_at, start, log, tail, error=message)
    finally:
        os.close(write_fd)
    stop_reading = threading.Event()
    try:
        _call_hook(on_group_start, proc.pid, log)
        pump = threading.Thread(
            target=_pump, args=(read_fd, log, redactor, tail, stop_reading), name="step-log",
            daemon=True,
        )  # fmt: skip
        pump.start()
        deadline = start + timeout
        timed_out = cancelled = False
        while proc.poll() is None:
            if cancel.is_set():
                cancelled = True
                break
            if time.monotonic() >= deadline:
                timed_out = True
                break
            if log.error is not None:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(_POLL_SECONDS)
        if timed_out or cancelled or log.error is not None:
            stop_process_group(proc, kill_grace)
        exit_code = proc.wait()
        # The output may still be held open by a descendant: a short grace, never past the
        # deadline nor a cancel, then stop reading whatever it holds.
        drain_until = min(time.monotonic() + _DRAIN_SECONDS, max(deadline, time.monotonic()))
        while pump.is_alive() and time.monotonic() < drain_until and not cancel.is_set():
            pump.join(_POLL_SECONDS)
        stop_reading.set()
        pump.join()
        stopped, left_running = stop_descendants(find_descendants(proc.pid, marker), kill_grace)
    finally:
        stop_reading.set()
        with contextlib.suppress(OSError):
            os.close(read_fd)
        _call_hook(on_group_end, proc.pid, log)
    reason = None
    if log.error is not None:
        reason = f"{log.error}; process group stopped"
    elif timed_out:
        reason = f"timed out after {timeout:g}s; process group stopped"
    elif cancelled:
        reason = "interrupted; process group stopped"
    notes = [reason] if reason else []
    if stopped:
        notes.append(f"stopped processes left behind by the step: {_pids(stopped)}")
    if left_running:
        notes.append(f"could not stop processes left behind by the step: {_pids(left_running)}")
    for note in notes:
        log.write(f"[recovery-bundle] {note}\n")
        tail.add(f"[recovery-bundle] {note}")
    return _result(
        exit_code, started_at, start, log, tail, error=reason, timed_out=timed_out,
        cancelled=cancelled, log_failed=log.error is not None, stopped=stopped,
        left_running=left_running,
    )  # fmt: skip


def _call_hook(hook: GroupHook, pgid: int, log: StepLog) -> None:
    try:
        hook(pgid)
    except OSError as exc:  # e.g. the lock file cannot be rewritten on a full disk
        log.write(f"[recovery-bundle] cannot record process group {pgid} in the lock: {exc}\n")


def _pids(pids: list[int]) -> str:
    return ", ".join(str(pid) for pid in pids)


def _result(
    exit_code: int | None,
    started_at: str,
    start: float,
    log: StepLog,
    tail: _Tail,
    **outcome: Any,
) -> ProcessResult:
    duration_s = round(max(0.0, time.monotonic() - start), 3)
    return ProcessResult(
        exit_code, started_at, duration_s, log.path, tail=list(tail.lines),
        log_truncated_at=log.truncated_at, **outcome,
    )  # fmt: skip


def _pump(
    fd: int, log: StepLog, redactor: Redactor, tail: _Tail, stop_reading: threading.Event
) -> None:
    """Copy the output to the log, line by line, until EOF or ``stop_reading``."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""  # an unfinished line, held back so a secret split across reads is still masked
    final_budget = _FINAL_DRAIN_BYTES
    while final_budget > 0:
        stopping = stop_reading.is_set()  # then only what is already buffered, bounded
        ready_fds, _, _ = select.select([fd], [], [], 0 if stopping else _POLL_SECONDS)
        if not ready_fds:
            if stopping:
                break
            continue
        try:
            raw = os.read(fd, _READ_BYTES)
        except OSError:
            break
        if not raw:
            break
        if stopping:
            final_budget -= len(raw)
        text = pending + decoder.decode(raw)
        complete, newline, rest = text.rpartition("\n")
        if newline:
            ready, pending = complete + newline, rest
        else:
            ready, pending = "", text
        if len(pending) > _READ_BYTES:
            more, pending = redactor.split_for_stream(pending)
            ready += more
        if ready:
            _emit(redactor.text(ready), log, tail)
    rest_text = pending + decoder.decode(b"", final=True)
    if rest_text:
        _emit(redactor.text(rest_text), log, tail)


def _emit(text: str, log: StepLog, tail: _Tail) -> None:
    log.write(text)
    for line in text.splitlines():
        tail.add(line)


def _display(argv: Sequence[str]) -> str:
    import shlex

    return shlex.join(argv)


def _spawn_error(argv: Sequence[str], cwd: Path | None, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        if cwd is not None and not cwd.is_dir():
            return f"working directory not found: {cwd}"
        return f"command not found: {argv[0]}"
    if isinstance(exc, PermissionError):
        return f"command not executable: {argv[0]}"
    return f"cannot start {argv[0]}: {exc.strerror or exc}"
