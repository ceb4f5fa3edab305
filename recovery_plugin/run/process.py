"""Run one command: argv list (never a shell), own process group, timeout, streamed redacted log.

Output is streamed line by line to a log file (memory stays flat whatever the step prints); only a
short tail is kept for the report. A step past its timeout, or cancelled (Ctrl-C, SIGTERM), is
stopped with its whole process group: SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import codecs
import contextlib
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from recovery_plugin.clock import now_iso
from recovery_plugin.procgroup import signal_process_group, stop_process_group
from recovery_plugin.redact import Redactor

__all__ = ["ProcessResult", "now_iso", "run_process"]

TAIL_LINES = 20
_MAX_LINE = 64 * 1024
_POLL_SECONDS = 0.05
# Seconds to wait for the output pipe to close once the command has exited.
_DRAIN_SECONDS = 2.0


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

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not (self.timed_out or self.cancelled or self.error)


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
) -> ProcessResult:
    """Run ``argv`` to completion, timeout or cancellation; never raises for the command's faults."""
    cancel = cancel or threading.Event()
    started_at = now_iso()
    start = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8", errors="replace") as log:
        log.write(f"$ {redactor.text(_display(argv))}\n")
        log.flush()
        try:
            proc = subprocess.Popen(  # noqa: S603 - an argv list from the runbook, no shell
                list(argv),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            message = _spawn_error(argv, cwd, exc)
            log.write(f"[recovery-bundle] {message}\n")
            tail.append(message)
            code = 127 if isinstance(exc, FileNotFoundError) else 126
            return _result(code, started_at, start, log_path, tail, error=message)
        assert proc.stdout is not None
        pump = threading.Thread(
            target=_pump, args=(proc.stdout, log, redactor, tail), name="step-log", daemon=True
        )
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
            if pump.is_alive():
                pump.join(_POLL_SECONDS)  # returns as soon as the output closes: usually the exit
            else:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(_POLL_SECONDS)
        if timed_out or cancelled:
            stop_process_group(proc, kill_grace)
        pump.join(_DRAIN_SECONDS)
        if pump.is_alive():
            # A grandchild kept the output pipe open after the command exited: stop it too.
            signal_process_group(proc.pid, signal.SIGKILL)
            pump.join(_DRAIN_SECONDS)
        proc.stdout.close()
        exit_code = proc.wait()
        reason = None
        if timed_out:
            reason = f"timed out after {timeout:g}s; process group stopped"
        elif cancelled:
            reason = "interrupted; process group stopped"
        if reason:
            log.write(f"[recovery-bundle] {reason}\n")
            tail.append(f"[recovery-bundle] {reason}")
    return _result(
        exit_code, started_at, start, log_path, tail, error=reason, timed_out=timed_out,
        cancelled=cancelled,
    )  # fmt: skip


def _result(
    exit_code: int | None,
    started_at: str,
    start: float,
    log_path: Path,
    tail: deque[str],
    **outcome: Any,
) -> ProcessResult:
    duration_s = round(time.monotonic() - start, 3)
    return ProcessResult(exit_code, started_at, duration_s, log_path, tail=list(tail), **outcome)


def _pump(stream: IO[bytes], log: IO[str], redactor: Redactor, tail: deque[str]) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = (
        ""  # the end of an over-long line, held back so a secret split across reads is still masked
    )
    for raw in iter(lambda: stream.readline(_MAX_LINE), b""):
        text = pending + decoder.decode(raw)
        if text.endswith("\n"):
            ready, pending = text, ""
        else:
            ready, pending = redactor.split_for_stream(text)
        if ready:
            line = redactor.text(ready)
            log.write(line)
            log.flush()
            tail.append(line.rstrip("\r\n"))
    rest = pending + decoder.decode(b"", final=True)
    if rest:
        line = redactor.text(rest)
        log.write(line)
        log.flush()
        tail.append(line.rstrip("\r\n"))


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
