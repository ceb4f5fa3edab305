"""Launch the generated verification session: ``pytest.main`` in-process with our plugin.

pytest-json-report's ``JSONReport`` collects the outcomes; the session hands them back as a
:class:`~recovery_plugin.report.result.VerificationResult`. Nothing here touches the report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from recovery_plugin.names import CAPTURE_NAME, PYTEST_INI_NAME, PYTEST_LOG_NAME, VERIFICATION_DIR
from recovery_plugin.redact import Redactor
from recovery_plugin.report.result import VerificationResult
from recovery_plugin.resolve.context import RunContext, baseline_capture

if TYPE_CHECKING:
    from recovery_plugin.http.capture import Capture
    from recovery_plugin.http.capture_process import ProcessCaptureBatch

__all__ = ["run_verification", "session_log_path"]

_INTERNAL_ERROR = "INTERNALERROR>"
# The caller's own pytest settings must not reshape the generated session (``-k``, ``--lf``, ...).
_CALLER_PYTEST_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")
_FLUSH_INTERVAL_S = 0.5
_CAPTURES_AHEAD = 2000
"""How far the capture may run ahead of the checks (captures not yet judged and released)."""


_ONLY_FOR_CHECK_FILES = (
    "subtests",
    "skipping",
    "unittest",
    "threadexception",
    "faulthandler",
    "tmpdir",
    "monkeypatch",
    "recwarn",
    "setuponly",
    "setupplan",
    "terminalprogress",
    "junitxml",  # the run writes its own JUnit XML, from the report
)
"""pytest's own plugins a generated session does without (a ``--checks-dir`` session keeps them)."""


def session_log_path(run_dir: Path) -> Path:
    return run_dir / VERIFICATION_DIR / PYTEST_LOG_NAME


@contextlib.contextmanager
def _without_env(*names: str) -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


class _RedactingStream:
    """A text stream that masks secrets before they reach the session log."""

    def __init__(self, target: IO[str], redactor: Redactor, crash: list[str]) -> None:
        self._target = target
        self._redactor = redactor
        self._crash = crash  # receives the last line of a pytest INTERNALERROR (the exception)
        self._flushed_at = 0.0
        self.encoding = "utf-8"

    def write(self, text: str) -> int:
        masked = self._redactor.text(text)
        self._target.write(masked)
        if masked.startswith(_INTERNAL_ERROR):
            line = masked[len(_INTERNAL_ERROR) :].strip()
            if line:
                self._crash[:] = [line]
        return len(text)

    def flush(self) -> None:
        # pytest flushes after every test; a write to disk each time cost ~0.4 ms a check.
        # At most twice a second keeps the log current for whoever tails it.
        now = time.monotonic()
        if now - self._flushed_at >= _FLUSH_INTERVAL_S:
            self._flushed_at = now
            self._target.flush()

    def isatty(self) -> bool:
        return False


def run_verification(
    context: RunContext,
    *,
    cancel: threading.Event,
    on_capture: Callable[[Capture], None] | None = None,
    on_check: Callable[[bool], None] | None = None,
) -> VerificationResult:
    """Run the session and return its result (outcomes, readiness, the report hooks)."""
    from recovery_plugin.http.capture import targets_for
    from recovery_plugin.http.capture_file import CaptureFileStream
    from recovery_plugin.http.capture_process import ProcessCaptureBatch
    from recovery_plugin.http.openapi_doc import contract_documents

    log_path = session_log_path(context.run_dir)
    session_dir = log_path.parent
    session_dir.mkdir(exist_ok=True)
    ini = session_dir / PYTEST_INI_NAME
    ini.write_text("[pytest]\n", encoding="utf-8")
    started = time.monotonic()
    crash: list[str] = []
    settings = context.settings
    capture_spec = context.capture_spec
    # Start capturing now, before pytest is even imported, in a child process: the requests and
    # the checks then never wait for each other's turn at one interpreter lock. Each check reads
    # its capture as soon as it has arrived.
    prefetch = ProcessCaptureBatch(
        settings.api_base,
        targets_for(context.runbook.endpoints, context.matchup_ids),
        capture_spec,
        redactor=context.redactor,
        readiness_path="/health",
        cancel=cancel,
        on_done=on_capture or (lambda _capture: None),
        stream=CaptureFileStream(
            context.run_dir / CAPTURE_NAME, context.redactor.text(settings.api_base)
        ),
        # The contract's documents come the same way: the session itself then makes no request.
        documents=contract_documents(context.runbook.endpoints, settings.api_base),
    ).start()
    # Lifted by the session when it keeps every capture (users' check files read them all).
    prefetch.hold_at_most(_CAPTURES_AHEAD)
    before = _last_exception()
    exitstatus, outcome = _run_session(
        context, ini, log_path, crash, prefetch, on_capture, on_check
    )
    del prefetch  # every capture is in the file: its targets and keys are not needed any more
    _let_the_session_go(before)
    return dataclasses.replace(
        outcome or VerificationResult(exitstatus=exitstatus, verification=None),
        duration_s=time.monotonic() - started,
        log_path=str(log_path),
        internal_error=crash[-1] if crash else None,
    )


def _run_session(
    context: RunContext,
    ini: Path,
    log_path: Path,
    crash: list[str],
    prefetch: ProcessCaptureBatch,
    on_capture: Callable[[Capture], None] | None,
    on_check: Callable[[bool], None] | None,
) -> tuple[int, VerificationResult | None]:
    import pytest
    import pytest_jsonreport.plugin as json_report_plugin
    from pytest_jsonreport.plugin import JSONReport

    import recovery_plugin.plugin as recovery_plugin_module
    from recovery_plugin.pytest_plugin.session import SessionSpec

    settings = context.settings
    spec = SessionSpec(
        base_url=settings.api_base,
        matchup_ids=list(context.matchup_ids),
        endpoints=context.runbook.endpoints,
        capture=context.capture_spec,
        redactor=context.redactor,
        capture_path=context.run_dir / CAPTURE_NAME,
        on_capture=on_capture,
        on_check=on_check,
        cancel=prefetch.cancel,
        prefetch=prefetch,
        baseline_path=baseline_capture(context),
    )
    with log_path.open("w", encoding="utf-8") as log:
        stream = _RedactingStream(log, context.redactor, crash)
        with contextlib.redirect_stdout(stream), _without_env(*_CALLER_PYTEST_ENV):
            try:
                args = _session_args(context, ini)
                # The plugin modules go in as objects: a ``-p name`` makes pytest scan every
                # installed distribution's entry points for that name first (~30 ms each).
                plugins = [recovery_plugin_module, json_report_plugin, JSONReport(), spec]
                exitstatus = int(pytest.main(args, plugins=plugins))
            finally:
                prefetch.close()
                if prefetch.stream is not None:
                    prefetch.stream.abandon()  # unless the session put it in place
    session = spec.session
    return exitstatus, session.result(exitstatus) if session is not None else None


_LAST_EXCEPTION = ("last_type", "last_value", "last_traceback", "last_exc")


def _last_exception() -> dict[str, object]:
    return {name: getattr(sys, name, None) for name in _LAST_EXCEPTION}


def _let_the_session_go(before: dict[str, object]) -> None:
    """Free the finished session before the report is built: its items, reports and records
    (most of the memory of 100,000 checks) are garbage once the session is over, but pytest
    leaves its last failure in ``sys.last_traceback`` (for a post-mortem), whose frames hold an
    item and through it the whole session, and the session's objects refer to one another
    (only the cycle collector frees them)."""
    for name, value in before.items():
        if getattr(sys, name, None) is not value:
            if value is None:
                with contextlib.suppress(AttributeError):
                    delattr(sys, name)
            else:
                setattr(sys, name, value)
    gc.collect()


def _session_args(context: RunContext, ini: Path) -> list[str]:
    session_dir = ini.parent
    checks_dir = context.settings.checks_dir
    args = [
        "--json-report-omit",
        "log",
        "streams",
        "keywords",
        "collectors",
        "-c",
        str(ini),
        "--rootdir",
        str(session_dir),
        "--confcutdir",
        str(checks_dir or session_dir),
        "--import-mode=importlib",
        "-p",
        "no:cacheprovider",
        # Only the plugins the session needs (given to pytest.main as modules): whatever else is
        # installed (hypothesis, benchmark plugins, ...) would cost start-up time and may write
        # files; a runbook can add more.
        "--disable-plugin-autoload",
        "-p",
        "no:unraisableexception",  # its clean-up runs gc.collect() five times (~0.2 s with 1,000 checks)
        "-p",
        "no:logging",  # per-phase log capture costs ~1 ms a check; the checks do not log
        "-p",
        "no:warnings",  # its catch_warnings around every item costs ~5% a check; the checks do not warn
        "-p",
        "no:doctest",
        "-p",
        "no:pastebin",
        "-p",
        "no:stepwise",
        # The failure summary of the default traceback style scans every report for each failure
        # (quadratic: 10,000 failing checks took minutes); one line per failure is linear, and
        # the report holds every reason.
        "--tb=line",
        "--capture=sys",  # no fd juggling per phase; what a check prints still lands in the session log
        "-q",
        "--json-report-file=none",
    ]
    team_plugins = context.runbook.capture.pytest_plugins
    if not checks_dir and not team_plugins:
        # Only a team's own code (check files, a runbook's plugins) might use these (skip and
        # xfail marks, tmp_path, monkeypatch, subtests, ...); every plugin loaded costs
        # start-up, and those with per-test hooks cost every check (each report goes through
        # every teststatus hook).
        for plugin in _ONLY_FOR_CHECK_FILES:
            args += ["-p", f"no:{plugin}"]
    for plugin in team_plugins:
        args += ["-p", plugin]
    args.append(str(checks_dir) if checks_dir else str(session_dir))
    return args
