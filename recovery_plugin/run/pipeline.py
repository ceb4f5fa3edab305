"""One recovery run, start to finish: plan, run the steps, verify, and always leave a whole report.

The runner knows nothing of click: the CLI turns flags into a :class:`RunRequest`, and the
runner returns a :class:`RunOutcome` with the report and the exit code.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from recovery_plugin.clock import new_run_id, now_iso
from recovery_plugin.config import Runbook, StepSpec, expand, find_config_file, load_runbook
from recovery_plugin.config.settings import Settings, resolve_settings
from recovery_plugin.errors import ConfigError, ExitCode, RecoveryError
from recovery_plugin.ids import (
    check_matchup_id,
    printable,
    read_matchup_file,
    safe_name,
    write_matchup_file,
)
from recovery_plugin.redact import Redactor, secret_values
from recovery_plugin.render.progress import Progress
from recovery_plugin.report.model import StepRecord
from recovery_plugin.report.writer import CAPTURE_NAME, REPORT_NAME, Report, ReportWriter

__all__ = ["RunOutcome", "RunRequest", "execute", "prepare"]

Mode = Literal["dry-run", "apply", "verify"]
Console = Callable[[str], None]
MAX_CONSOLE_FAILURES = 10
MATCHUP_IDS_NAME = "matchup_ids.json"
FAILED_IDS_NAME = "failed_reprocess_ids.json"
STEP_REPORT_NAMES = {"ingest": "ingest_retry_report.json", "reprocess": "reprocess_report.json"}


@dataclass
class RunRequest:
    mode: Mode
    matchup_ids: Sequence[str] = ()
    matchup_file: Path | None = None
    resume_from: Path | None = None
    config_path: Path | None = None
    flags: Mapping[str, Any] = field(default_factory=dict)
    poll_fingerprint: str | None = None
    report_copy: Path | None = None
    continue_on_error: bool = False
    skip_ingest: bool = False
    skip_reprocess: bool = False
    skip_capture: bool = False
    junit_xml: Path | None = None
    cwd: Path = field(default_factory=Path.cwd)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass
class RunOutcome:
    report: dict[str, Any]
    exit_code: int
    report_path: Path


@dataclass
class Prepared:
    request: RunRequest
    runbook: Runbook
    settings: Settings
    matchup_ids: list[str]
    run_id: str
    run_dir: Path
    step_env: dict[str, str]
    redactor: Redactor
    warnings: list[str]
    previous: dict[str, Any] | None = None
    """The report of the run being resumed (``--resume``)."""
    steps: list[StepRecord] = field(default_factory=list)
    """The planned steps, with their exact argv."""
    report_copy: Path | None = None
    """``--report``: where a copy of the report goes (its directory exists)."""


def prepare(request: RunRequest) -> Prepared:
    """Validate everything that can be validated before anything runs; raise RecoveryError."""
    previous = _load_previous(request) if request.resume_from is not None else None
    if previous is not None:
        request = _resumed_request(request, previous)
    config_path = request.config_path
    if config_path is None and request.environ.get("RECOVERY_CONFIG"):
        config_path = Path(request.environ["RECOVERY_CONFIG"])
    if config_path is None:
        config_path = find_config_file(request.cwd)
    elif not config_path.is_absolute():
        config_path = request.cwd / config_path
    runbook = load_runbook(config_path)
    settings = resolve_settings(runbook, flags=request.flags, environ=request.environ)
    if settings.checks_dir is not None and not _absolute(settings.checks_dir, request.cwd).is_dir():
        raise ConfigError(
            f"checks directory not found: {settings.checks_dir} (from {settings.sources['checks_dir']})"
        )
    raw_ids = list(request.matchup_ids)
    if request.matchup_file is not None:
        raw_ids += read_matchup_file(_absolute(request.matchup_file, request.cwd))
    ids, warnings = _dedupe_ids(raw_ids)
    if request.poll_fingerprint is not None and not request.poll_fingerprint.strip():
        raise ConfigError("--poll-fingerprint is empty")
    step_env = {**request.environ, **runbook.env}
    redactor = Redactor(secret_values(step_env, runbook.secret_env))
    run_id = new_run_id()
    output_dir = _absolute(settings.output_dir, request.cwd)
    _check_output_dir(output_dir, settings.sources["output_dir"])
    run_dir = output_dir / run_id
    prepared = Prepared(
        request=request,
        runbook=runbook,
        settings=replace(settings, output_dir=output_dir),
        matchup_ids=ids,
        run_id=run_id,
        run_dir=run_dir,
        step_env=step_env,
        redactor=redactor,
        warnings=warnings,
        previous=previous,
    )
    prepared.steps = _plan(prepared)  # placeholders are checked here, before anything is created
    prepared.report_copy = _report_copy(request)
    return prepared


def _load_previous(request: RunRequest) -> dict[str, Any]:
    assert request.resume_from is not None
    path = _absolute(request.resume_from, request.cwd)
    report_path = path / REPORT_NAME if path.is_dir() else path
    try:
        previous: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--resume {request.resume_from}: no {REPORT_NAME} there") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--resume {request.resume_from}: unreadable report: {exc}") from None
    if request.mode == "verify":
        raise ConfigError("--resume goes with run, not verify")
    if not isinstance(previous, dict) or previous.get("mode") != "apply" or "steps" not in previous:
        raise ConfigError(f"--resume {request.resume_from}: not the report of an apply run")
    return previous


def _resumed_request(request: RunRequest, previous: dict[str, Any]) -> RunRequest:
    """The same config, ids and service as the resumed run, unless given again on the command line."""
    flags = dict(request.flags)
    flags.setdefault("api_base", None)
    if flags["api_base"] is None:
        flags["api_base"] = previous.get("api_base")
    config_path = request.config_path
    if config_path is None and previous.get("config_path"):
        config_path = Path(previous["config_path"])
    return replace(
        request,
        flags=flags,
        config_path=config_path,
        matchup_ids=list(request.matchup_ids) or list(previous.get("matchup_ids", [])),
        poll_fingerprint=request.poll_fingerprint or previous.get("poll_fingerprint"),
    )


def _absolute(path: Path, cwd: Path) -> Path:
    return path if path.is_absolute() else cwd / path


def _dedupe_ids(raw: Sequence[str]) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for value in raw:
        problem = check_matchup_id(value)
        if problem:
            raise ConfigError(f"invalid --matchup-id {value!r}: {problem}")
        if value in seen:
            warnings.append(f"warning: duplicate matchup id {value!r} ignored")
            continue
        seen.add(value)
        ids.append(value)
    return ids, warnings


def _check_output_dir(output_dir: Path, source: str) -> None:
    """The output directory exists (created if need be) and takes files; the run dir comes later."""
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigError(f"output directory {output_dir} (from {source}) is not a directory")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output_dir, prefix=".write-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(
            f"cannot write to output directory {output_dir} (from {source}): {reason}"
        ) from None


# --- execution -----------------------------------------------------------------------------


class _Interrupt:
    """Turns SIGINT/SIGTERM into a cancel event (and a KeyboardInterrupt inside pytest)."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.signum: int | None = None
        self.in_pytest = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        self.signum = signum
        self.cancel.set()
        if self.in_pytest and first:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.TERMINATED if self.signum == signal.SIGTERM else ExitCode.INTERRUPTED


def execute(prepared: Prepared, console: Console, progress: Progress | None = None) -> RunOutcome:
    """Run (or plan) every step; the report is written at each change and always at the end."""
    progress = progress or Progress(io.StringIO(), live=False)  # counts only, never drawn
    console = _masked(console, prepared.redactor)
    request = prepared.request
    settings = prepared.settings
    for warning in prepared.warnings:
        console(warning)
    start = time.monotonic()
    lock = None
    if request.mode == "apply":
        from recovery_plugin.run.lock import OutputLock

        # Before the run directory exists: a refused apply leaves nothing behind.
        lock = OutputLock(settings.output_dir, run_id=prepared.run_id, warn=console)
        lock.acquire()
    try:
        prepared.run_dir.mkdir()
        return _execute_locked(prepared, console, progress, start)
    finally:
        if lock is not None:
            lock.release()


def _execute_locked(
    prepared: Prepared, console: Console, progress: Progress, start: float
) -> RunOutcome:
    request = prepared.request
    settings = prepared.settings
    report = Report(
        run_id=prepared.run_id,
        mode=request.mode,
        api_base=settings.api_base,
        output_dir=str(settings.output_dir),
        run_dir=str(prepared.run_dir),
        started_at=now_iso(),
        matchup_ids=list(prepared.matchup_ids),
        poll_fingerprint=request.poll_fingerprint,
        config_source=prepared.runbook.source,
        config_path=str(prepared.runbook.path) if prepared.runbook.path else None,
        lang=settings.lang,
        preflight={
            name: bool(prepared.step_env.get(name)) for name in prepared.runbook.required_env
        },
    )
    if prepared.previous is not None:
        report.resumed_from = str(prepared.previous.get("run_dir"))
    if prepared.matchup_ids and request.mode != "dry-run":
        write_matchup_file(prepared.run_dir / MATCHUP_IDS_NAME, prepared.matchup_ids)
    writer = ReportWriter(prepared.run_dir, prepared.redactor, copy_to=prepared.report_copy)
    report.steps = prepared.steps
    if request.mode != "dry-run":  # a dry-run's report is written once, whole, at the end
        writer.write(report)
    final: dict[str, Any] | None = None
    interrupt = _Interrupt()
    try:
        with interrupt.installed():
            if request.mode != "dry-run":
                if request.mode == "apply":
                    _capture_baseline(prepared, report, writer, console)
                    _run_mutating_steps(prepared, report, writer, interrupt, console, progress)
                final = _run_capture(prepared, report, writer, interrupt, console, progress)
    except RecoveryError as exc:
        report.status = "failed"
        report.error = exc.message
        _finish(writer, report, start)
        raise
    except BaseException as exc:
        # Whatever happens, the evidence is written before the error propagates.
        report.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        report.error = f"{type(exc).__name__}: {exc}"
        for step in report.steps:
            if step.status in ("planned", "running"):
                step.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                step.error = step.error or "the run stopped before this step finished"
        payload = _finish(writer, report, start)
        if isinstance(exc, KeyboardInterrupt):
            return RunOutcome(payload, int(interrupt.exit_code), writer.path)
        raise
    if interrupt.signum is not None and final is None:
        # (A signal after the verification session finalised the report changes nothing: the
        # report on disk is complete and the exit code must agree with it.)
        report.status = "interrupted"
        for step in report.steps:
            if step.status in ("planned", "running"):
                step.status = "skipped"
                step.error = step.error or "not run: the run was interrupted"
    payload = final if final is not None else _finish(writer, report, start)
    exit_code = _exit_code(report, interrupt)
    return RunOutcome(payload, exit_code, writer.path)


def _masked(console: Console, redactor: Redactor) -> Console:
    """Every console line passes the redactor (``api_base`` may carry credentials) and shows
    control characters escaped (an id with a newline or an escape sequence must not reshape the
    operator's terminal)."""
    return lambda line: console(printable(redactor.text(line)))


def _report_copy(request: RunRequest) -> Path | None:
    if request.report_copy is None:
        return None
    path = _absolute(request.report_copy, request.cwd)
    if path.exists() and path.is_dir():
        raise ConfigError(f"--report {request.report_copy} is a directory, not a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the directory of --report {request.report_copy}: {exc.strerror}"
        ) from None
    return path


def _finish(writer: ReportWriter, report: Report, start: float, **hooks: Any) -> dict[str, Any]:
    return writer.finalize(
        report, finished_at=now_iso(), duration_s=time.monotonic() - start, **hooks
    )


def _exit_code(report: Report, interrupt: _Interrupt) -> int:
    if report.status == "interrupted":
        return int(interrupt.exit_code)
    if report.status in ("success", "dry-run"):
        return int(ExitCode.OK)
    return int(ExitCode.FAILED)


def _plan(prepared: Prepared) -> list[StepRecord]:
    request = prepared.request
    mode = request.mode
    runbook = prepared.runbook
    steps: list[StepRecord] = []
    if mode != "verify":
        ingest_dir = prepared.run_dir / "steps" / "ingest"
        steps.append(_planned("ingest", runbook.steps["ingest"], prepared, ingest_dir, None))
        if request.skip_ingest:
            _skip(steps[-1], "skipped by --skip-ingest")
        for matchup_id in prepared.matchup_ids:
            step_dir = prepared.run_dir / "steps" / f"reprocess-{safe_name(matchup_id)}"
            record = _planned(
                "reprocess", runbook.steps["reprocess"], prepared, step_dir, matchup_id
            )
            if request.skip_reprocess:
                _skip(record, "skipped by --skip-reprocess")
            steps.append(record)
    capture = StepRecord(
        name="capture",
        mode=mode,
        command=[f"GET {prepared.settings.api_base}{e.path}" for e in runbook.endpoints],
        output_path=str(prepared.run_dir / CAPTURE_NAME),
    )
    if request.skip_capture:
        _skip(capture, "skipped by --skip-capture")
    steps.append(capture)
    if prepared.previous is not None:
        _skip_already_done(steps, prepared.previous)
    return steps


def _save(writer: ReportWriter, report: Report) -> None:
    writer.write(report)


def _skip_already_done(steps: list[StepRecord], previous: dict[str, Any]) -> None:
    """``--resume``: a mutating step that succeeded in the resumed run is not run again."""
    done = {
        (s["name"], s.get("matchup_id")) for s in previous["steps"] if s.get("status") == "success"
    }
    for record in steps:
        if (
            record.name != "capture"
            and (record.name, record.matchup_id) in done
            and record.status == "planned"
        ):
            _skip(record, f"succeeded in run {previous.get('run_id')} (resumed)")


def _skip(record: StepRecord, reason: str) -> None:
    record.status = "skipped"
    record.error = reason


def _planned(
    name: str, spec: StepSpec, prepared: Prepared, step_dir: Path, matchup_id: str | None
) -> StepRecord:
    report_path = step_dir / STEP_REPORT_NAMES[name]
    values: dict[str, str | None] = {
        "python": sys.executable,
        "api_base": prepared.settings.api_base,
        "input": prepared.settings.input,
        "matchup_id": matchup_id,
        "poll_fingerprint": prepared.request.poll_fingerprint,
        "run_dir": str(prepared.run_dir),
        "step_dir": str(step_dir),
        "step_report": str(report_path),
        "mode": prepared.request.mode,
    }
    argv = _expand_argv(spec, values, prepared.runbook.source)
    return StepRecord(
        name=name,
        mode=prepared.request.mode,
        command=argv,
        output_path=str(report_path),
        matchup_id=matchup_id,
    )


def _expand_argv(spec: StepSpec, values: Mapping[str, str | None], source: str) -> list[str]:
    from recovery_plugin.config import placeholders_in

    argv = list(spec.command)
    for placeholder, extra in spec.optional_args.items():
        if values.get(placeholder):
            argv.extend(extra)
    expanded = []
    for arg in argv:
        for name in placeholders_in(arg):
            if values.get(name) is None:
                raise ConfigError(
                    f"{source}: steps.{spec.name}.command uses {{{name}}}, which has no value here"
                    + (
                        " (pass --poll-fingerprint, or use optional_args)"
                        if name == "poll_fingerprint"
                        else ""
                    )
                )
        expanded.append(expand(arg, {k: v for k, v in values.items() if v is not None}))
    return expanded


def _run_mutating_steps(
    prepared: Prepared,
    report: Report,
    writer: ReportWriter,
    interrupt: _Interrupt,
    console: Console,
    progress: Progress,
) -> None:
    request = prepared.request
    runbook = prepared.runbook
    stop_mutations = threading.Event()
    cwd_base = request.cwd

    def run(record: StepRecord) -> None:
        if record.status == "skipped":
            return
        if interrupt.cancel.is_set():
            _skip(record, "not run: the run was interrupted")
            return
        if stop_mutations.is_set():
            _skip(
                record, "skipped: an earlier step failed (use --continue-on-error to run it anyway)"
            )
            writer.write(report)
            return
        from recovery_plugin.run.steps import run_step

        spec = runbook.steps[record.name]
        label = record.name if record.matchup_id is None else f"{record.name} {record.matchup_id}"
        console(prepared.redactor.text(f"[{label}] running"))
        progress.step_started(prepared.redactor.text(label))
        step_dir = Path(record.output_path or prepared.run_dir).parent
        step_dir.mkdir(parents=True, exist_ok=True)
        env = {**prepared.step_env, **spec.env}
        cwd = _absolute(Path(spec.cwd), cwd_base) if spec.cwd else cwd_base
        run_step(
            record,
            spec,
            record.command,
            step_dir=step_dir,
            env=env,
            cwd=cwd,
            redactor=prepared.redactor,
            cancel=interrupt.cancel,
            on_change=lambda _record: _save(writer, report),
        )
        progress.step_finished(prepared.redactor.text(label))
        if record.name == "reprocess":
            progress.advance("reprocess")
        attempts = len(record.attempts)
        last_output = next((line for line in reversed(record.tail) if line.strip()), None)
        console(
            f"[{label}] {record.status} in {record.duration_s:.1f}s"
            + (f" ({attempts} attempts)" if attempts > 1 else "")
            + (f": {record.error}" if record.error else "")
            + (f"; last output: {last_output[:300]}" if record.failed and last_output else "")
        )
        if record.failed and not request.continue_on_error:
            stop_mutations.set()

    ingest = report.step("ingest")
    if ingest is not None:
        run(ingest)
    reprocess = [s for s in report.steps if s.name == "reprocess"]
    progress.expect("reprocess", sum(1 for s in reprocess if s.status != "skipped"))
    jobs = max(1, min(prepared.settings.jobs, len(reprocess) or 1))
    if jobs == 1:
        for record in reprocess:
            run(record)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="reprocess") as pool:
            for future in [pool.submit(run, record) for record in reprocess]:
                future.result()
    failed = [str(r.matchup_id) for r in reprocess if r.failed]
    if failed:
        write_matchup_file(prepared.run_dir / FAILED_IDS_NAME, failed)
    writer.write(report)


def _capture_baseline(
    prepared: Prepared, report: Report, writer: ReportWriter, console: Console
) -> None:
    """Capture every endpoint once before anything changes: the 'before' half of the evidence."""
    capture = report.step("capture")
    if capture is None or capture.status == "skipped":
        return
    from recovery_plugin.http.capture import capture_all, targets_for, write_capture_file
    from recovery_plugin.report.evidence import BEFORE_NAME

    spec = replace(prepared.runbook.capture, timeout=prepared.settings.capture_timeout)
    captures = capture_all(
        prepared.settings.api_base,
        targets_for(prepared.runbook.endpoints, prepared.matchup_ids),
        spec,
        redactor=prepared.redactor,
    )
    path = prepared.run_dir / BEFORE_NAME
    write_capture_file(path, prepared.redactor.text(prepared.settings.api_base), captures.values())
    report.evidence = {
        "before": str(path),
        "after": str(prepared.run_dir / CAPTURE_NAME),
        "diffs": [],
    }
    writer.write(report)
    console(f"[baseline] captured {len(captures)} endpoint response(s) before the steps")


def _run_capture(
    prepared: Prepared,
    report: Report,
    writer: ReportWriter,
    interrupt: _Interrupt,
    console: Console,
    progress: Progress,
) -> dict[str, Any] | None:
    """Run the verification session; returns the final report when the session wrote it."""
    capture = report.step("capture")
    if capture is None or capture.status == "skipped":
        return None
    if interrupt.cancel.is_set():
        _skip(capture, "not run: the run was interrupted")
        return None
    from recovery_plugin.run.verification import run_verification

    capture.status = "running"
    capture.started_at = now_iso()
    writer.write(report)
    console(
        f"[capture] verifying {_count_checks(prepared)} check(s) against {prepared.settings.api_base}"
    )
    finished: dict[str, Any] = {}
    started = time.monotonic()
    progress.expect("capture", _count_checks(prepared))
    interrupt.in_pytest = True
    try:
        exitstatus = run_verification(
            prepared,
            report,
            capture,
            writer,
            interrupt.cancel,
            finished,
            on_capture=lambda _capture: progress.advance("capture"),
        )
    finally:
        interrupt.in_pytest = False
    if not finished:
        capture.finished_at = now_iso()
        capture.duration_s = round(time.monotonic() - started, 3)
        capture.status = "interrupted" if interrupt.signum is not None else "failed"
        capture.exit_code = exitstatus
        capture.error = capture.error or (
            f"the verification session ended (pytest exit code {exitstatus}) before reporting its outcomes;"
            f" see {capture.log_path}"
        )
    summary = (report.verification or {}).get("summary")
    if summary:
        console(
            f"[capture] {capture.status}: {summary['passed']} passed, {summary['failed']} failed,"
            f" {summary['error']} errors of {summary['total']}"
        )
        failures = [
            t
            for t in (report.verification or {}).get("tests", [])
            if t["outcome"] in ("failed", "error")
        ]
        for test in failures[:MAX_CONSOLE_FAILURES]:
            console(f"  - {(test.get('message') or test['nodeid']).splitlines()[0]}")
        if len(failures) > MAX_CONSOLE_FAILURES:
            console(
                f"  ... and {len(failures) - MAX_CONSOLE_FAILURES} more (every reason is in the report)"
            )
        readiness = report.readiness
        if readiness is not None and not readiness.get("ready"):
            console(
                f"[capture] readiness: {readiness['url']} did not answer 2xx within"
                f" {readiness['deadline_s']:g}s ({len(readiness['attempts'])} probes)"
            )
    else:
        console(f"[capture] {capture.status}: {capture.error}")
    payload: dict[str, Any] | None = finished.get("payload")
    return payload


def _count_checks(prepared: Prepared) -> int:
    ids = len(prepared.matchup_ids)
    return sum(ids if e.per_matchup else 1 for e in prepared.runbook.endpoints)
