"""Launch the generated verification session: ``pytest.main`` in-process with our plugin.

pytest-json-report's ``JSONReport`` collects the outcomes; the plugin merges them into the
runbook report (calling the checklist/report hooks) before the session ends.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from recovery_plugin.clock import now_iso
from recovery_plugin.redact import Redactor
from recovery_plugin.report.writer import CAPTURE_NAME, Report, ReportWriter

if TYPE_CHECKING:
    from recovery_plugin.http.capture import Capture
    from recovery_plugin.pytest_plugin.session import FinishedVerification
    from recovery_plugin.report.model import StepRecord
    from recovery_plugin.run.pipeline import Prepared

__all__ = ["run_verification"]


_INTERNAL_ERROR = "INTERNALERROR>"
# The caller's own pytest settings must not reshape the generated session (``-k``, ``--lf``, ...).
_CALLER_PYTEST_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")


@contextlib.contextmanager
def _without_env(*names: str) -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


class _RedactingStream:
    """A text stream that masks secrets before they reach the session log."""

    def __init__(self, target: IO[str], redactor: Redactor, crash: list[str] | None = None) -> None:
        self._target = target
        self._redactor = redactor
        self._crash = crash  # receives the last line of a pytest INTERNALERROR (the exception)
        self.encoding = "utf-8"

    def write(self, text: str) -> int:
        masked = self._redactor.text(text)
        self._target.write(masked)
        if self._crash is not None and masked.startswith(_INTERNAL_ERROR):
            line = masked[len(_INTERNAL_ERROR) :].strip()
            if line:
                self._crash[:] = [line]
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return False


def run_verification(
    prepared: Prepared,
    report: Report,
    capture: StepRecord,
    writer: ReportWriter,
    cancel: threading.Event,
    finished: dict[str, Any],
    on_capture: Callable[[Capture], None] | None = None,
) -> int:
    """Run the session; returns pytest's exit code. ``finished`` is filled once the report is final."""
    import pytest
    from pytest_jsonreport.plugin import JSONReport

    from recovery_plugin.http.capture import CaptureBatch, targets_for
    from recovery_plugin.pytest_plugin.session import RunContext, apply_verification

    run_dir = prepared.run_dir
    session_dir = run_dir / "verification"
    session_dir.mkdir(exist_ok=True)
    ini = session_dir / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    log_path = session_dir / "pytest.log"
    capture.log_path = str(log_path)
    started = time.monotonic()
    crash: list[str] = []

    def on_finish(done: FinishedVerification) -> None:
        apply_verification(capture, done)
        if done.exitstatus == int(pytest.ExitCode.INTERNAL_ERROR):
            what = crash[-1] if crash else "see the log"
            capture.status = "failed"
            capture.error = (
                f"pytest internal error in the verification session: {what}"
                f" (pytest exit code {done.exitstatus}; log: {log_path})"
            )
        capture.finished_at = now_iso()
        capture.duration_s = round(time.monotonic() - started, 3)
        report.readiness = done.readiness
        report.verification = done.verification
        if report.evidence is not None:
            from recovery_plugin.report.evidence import diff_capture_files

            report.evidence["diffs"] = diff_capture_files(
                Path(report.evidence["before"]), Path(report.evidence["after"])
            )
        if cancel.is_set():
            report.status = "interrupted"
        finished["payload"] = writer.finalize(
            report,
            finished_at=now_iso(),
            duration_s=_since(report.started_at),
            extend_checklist=done.extend_checklist,
            last_look=done.last_look,
        )

    settings = prepared.settings
    capture_spec = replace(prepared.runbook.capture, timeout=settings.capture_timeout)
    # Start capturing now, while pytest starts up and collects: the requests wait on the network,
    # pytest's start-up on the CPU. Each check then reads its capture as soon as it has arrived.
    prefetch = CaptureBatch(
        settings.api_base,
        targets_for(prepared.runbook.endpoints, prepared.matchup_ids),
        capture_spec,
        redactor=prepared.redactor,
        readiness_path="/health",
        cancel=cancel,
        on_done=on_capture or (lambda _capture: None),
    ).start()
    context = RunContext(
        base_url=settings.api_base,
        matchup_ids=list(prepared.matchup_ids),
        endpoints=prepared.runbook.endpoints,
        capture=capture_spec,
        redactor=prepared.redactor,
        capture_path=run_dir / CAPTURE_NAME,
        on_finish=on_finish,
        on_capture=on_capture,
        cancel=cancel,
        prefetch=prefetch,
    )
    confcut = settings.checks_dir if settings.checks_dir else session_dir
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
        str(confcut),
        "--import-mode=importlib",
        "-p",
        "no:cacheprovider",
        # Only the plugins the session needs: whatever else is installed (hypothesis, benchmark
        # plugins, ...) would cost start-up time and may write files; a runbook can add more.
        "--disable-plugin-autoload",
        "-p",
        "recovery_plugin.plugin",
        "-p",
        "pytest_jsonreport.plugin",
        "-p",
        "no:unraisableexception",  # its clean-up runs gc.collect() five times (~0.2 s with 1,000 checks)
        "-p",
        "no:logging",  # per-phase log capture costs ~1 ms a check; the checks do not log
        "--capture=sys",  # no fd juggling per phase; what a check prints still lands in the session log
        "-q",
        "--json-report-file=none",
    ]
    for plugin in prepared.runbook.capture.pytest_plugins:
        args += ["-p", plugin]
    if prepared.request.junit_xml is not None:
        args += ["--junit-xml", str(prepared.request.junit_xml)]
    args.append(str(settings.checks_dir) if settings.checks_dir else str(session_dir))
    with log_path.open("w", encoding="utf-8") as log:
        stream = _RedactingStream(log, prepared.redactor, crash)
        with contextlib.redirect_stdout(stream), _without_env(*_CALLER_PYTEST_ENV):
            exit_code = pytest.main(args, plugins=[JSONReport(), context])
    return int(exit_code)


def _since(started_at: str) -> float:
    from datetime import datetime

    return (
        datetime.now(tz=datetime.fromisoformat(started_at).tzinfo)
        - datetime.fromisoformat(started_at)
    ).total_seconds()
