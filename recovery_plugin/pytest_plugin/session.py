"""The ``recovery`` pytest plugin: generated endpoint checks, capture fixtures, report merging.

Inert unless enabled: it registers its stateful :class:`VerificationSession` only when the
launcher hands it a :class:`RunContext`, or when ``--recovery-base-url`` (ini
``recovery_base_url``) is given. Loaded into an unrelated session it adds options, hooks and
fixtures, and does nothing else.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from recovery_plugin.config import CaptureSpec, EndpointSpec, load_runbook
from recovery_plugin.errors import RecoveryError
from recovery_plugin.ids import printable
from recovery_plugin.pytest_plugin.options import PLUGIN_FLAGS, config_path, path_option
from recovery_plugin.redact import Redactor, secret_values

if TYPE_CHECKING:  # httpx is imported only once the plugin is enabled
    from recovery_plugin.http.capture import Capture, CaptureBatch, Readiness, Target

__all__ = [
    "CaptureView",
    "EndpointCheck",
    "FinishedVerification",
    "RunContext",
    "VerificationSession",
    "recovery_captures",
]

RUN_CONTEXT = pytest.StashKey["RunContext"]()
SESSION = pytest.StashKey["VerificationSession"]()
MARKER = "recovery_check"
COLLECTOR_NAME = "recovery"
"""The generated checks' collector: their node ids are ``recovery::<endpoint>[<matchup id>]``."""


@dataclass
class FinishedVerification:
    """What the verification session hands back: merged outcomes and hook callbacks."""

    verification: dict[str, Any]
    readiness: dict[str, Any] | None
    exitstatus: int
    extend_checklist: Callable[[dict[str, Any], list[str]], None]
    last_look: Callable[[dict[str, Any]], None]


@dataclass(eq=False)  # registered as a pytest plugin object, so it must stay hashable
class RunContext:
    """Everything a verification session needs; given by the launcher or built from options."""

    base_url: str
    matchup_ids: list[str]
    endpoints: tuple[EndpointSpec, ...]
    capture: CaptureSpec
    redactor: Redactor
    capture_path: Path | None = None
    report_path: Path | None = None
    """Where a plain ``pytest --recovery-output-dir`` session writes its report (named at the end)."""
    readiness_path: str | None = "/health"
    on_finish: Callable[[FinishedVerification], None] | None = None
    on_capture: Callable[[Capture], None] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    prefetch: CaptureBatch | None = None
    """A capture batch the launcher started before the session, overlapping pytest's start-up."""

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[RUN_CONTEXT] = self


class CheckFailed(Exception):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("\n".join(reasons))
        self.reasons = reasons


# --- options -------------------------------------------------------------------------------


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from recovery_plugin.pytest_plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(endpoint, matchup_id): a generated recovery-bundle endpoint check"
    )
    context = config.stash.get(RUN_CONTEXT, None)
    if context is None:
        context = _context_from_options(config)
        if context is None:
            return  # not enabled: stay inert
        config.stash[RUN_CONTEXT] = context
    _ensure_json_report(config)
    session = VerificationSession(config, context)
    config.stash[SESSION] = session
    config.pluginmanager.register(session, "recovery-verification")


def _context_from_options(config: pytest.Config) -> RunContext | None:
    """The run context of a plain ``pytest --recovery-base-url`` session (None: stay inert).

    Precedence is the launcher's, with the pytest ini ranking just above the runbook file:
    flag > environment > ini > runbook file > default. Relative paths from the command line or
    the environment are taken from the invocation directory; relative paths in the ini file
    from the ini file's directory.
    """
    from dataclasses import replace

    from recovery_plugin.config.settings import resolve_settings
    from recovery_plugin.ids import check_matchup_id

    flag_url = config.getoption("recovery_base_url")
    ini_url = config.getini("recovery_base_url") or None
    if not flag_url and not ini_url:
        return None
    flags = {
        "api_base": flag_url,
        "capture_timeout": config.getoption("recovery_capture_timeout"),
    }
    try:
        path = config_path(config)
        runbook = load_runbook(path)
        settings = resolve_settings(
            runbook,
            flags=flags,
            environ=os.environ,
            ini={
                "api_base": ("recovery_base_url", ini_url),
                "capture_timeout": (
                    "recovery_capture_timeout",
                    config.getini("recovery_capture_timeout") or None,
                ),
            },
            flag_names=PLUGIN_FLAGS,
        )
    except RecoveryError as exc:
        raise pytest.UsageError(f"recovery: {exc.message}") from None
    flag_ids = config.getoption("recovery_matchup_ids")
    ids = list(flag_ids) if flag_ids else [str(i) for i in config.getini("recovery_matchup_ids")]
    for matchup_id in ids:
        problem = check_matchup_id(matchup_id)
        if problem:
            source = "--recovery-matchup-id" if flag_ids else "ini recovery_matchup_ids"
            raise pytest.UsageError(
                f"recovery: invalid matchup id {matchup_id!r} from {source}: {problem}"
            )
    ids = list(dict.fromkeys(ids))
    capture_spec = replace(runbook.capture, timeout=settings.capture_timeout)
    step_env = {**os.environ, **runbook.env}
    redactor = Redactor(secret_values(step_env, runbook.secret_env))
    context = RunContext(
        base_url=settings.api_base,
        matchup_ids=ids,
        endpoints=runbook.endpoints,
        capture=capture_spec,
        redactor=redactor,
    )
    output_dir = path_option(config, "recovery_output_dir")
    if output_dir is not None and not config.option.collectonly:
        preflight = {name: bool(step_env.get(name)) for name in runbook.required_env}
        _attach_plain_report(
            context,
            output_dir,
            source=runbook.source,
            config_path=str(path) if path else None,
            lang=settings.lang,
            preflight=preflight,
        )
    return context


def _ensure_json_report(config: pytest.Config) -> None:
    """Make sure a pytest-json-report collector runs: its outcomes feed the runbook report."""
    from pytest_jsonreport.plugin import JSONReport

    if not hasattr(config.option, "json_report_omit"):  # its options were never added
        raise pytest.UsageError(
            "recovery: the pytest-json-report plugin is not loaded (is plugin autoloading"
            " disabled?): add -p pytest_jsonreport.plugin"
        )
    if any(isinstance(p, JSONReport) for p in config.pluginmanager.get_plugins()):
        return
    if not config.option.json_report:
        config.option.json_report_file = None  # collect outcomes, save nothing on its behalf
        if config.option.json_report_verbosity is None:
            config.option.json_report_verbosity = 0  # and say nothing about it in the terminal
    config.pluginmanager.register(JSONReport(config), "recovery-json-report")


def _attach_plain_report(
    context: RunContext,
    output_dir: Path,
    *,
    source: str,
    config_path: str | None,
    lang: str,
    preflight: dict[str, bool],
) -> None:
    """Plain ``pytest --recovery-output-dir``: captures and a verify-mode report in a new run dir."""
    from recovery_plugin.clock import new_run_id, now_iso
    from recovery_plugin.report.model import StepRecord
    from recovery_plugin.report.writer import CAPTURE_NAME, Report, ReportWriter

    run_id = new_run_id()
    run_dir = output_dir / run_id
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise pytest.UsageError(
            f"recovery: cannot create run directory {run_dir}: {exc.strerror}"
        ) from None
    context.capture_path = run_dir / CAPTURE_NAME
    started = time.monotonic()
    report = Report(
        run_id=run_id,
        mode="verify",
        api_base=context.base_url,
        output_dir=str(output_dir),
        run_dir=str(run_dir),
        started_at=now_iso(),
        matchup_ids=list(context.matchup_ids),
        config_source=source,
        config_path=config_path,
        lang=lang,
        preflight=preflight,
    )
    writer = ReportWriter(run_dir, context.redactor)
    context.report_path = writer.path

    def finish(done: FinishedVerification) -> None:
        step = StepRecord(
            name="capture",
            mode="verify",
            command=[f"GET {context.base_url}{spec.path}" for spec in context.endpoints],
            output_path=str(context.capture_path),
            started_at=report.started_at,
            finished_at=now_iso(),
        )
        apply_verification(step, done)
        report.steps = [step]
        report.readiness = done.readiness
        report.verification = done.verification
        writer.finalize(
            report,
            finished_at=now_iso(),
            duration_s=time.monotonic() - started,
            extend_checklist=done.extend_checklist,
            last_look=done.last_look,
        )

    context.on_finish = finish


def apply_verification(step: Any, done: FinishedVerification) -> None:
    """Set the capture step's status and exit code from the session's outcomes."""
    summary = done.verification["summary"]
    healthy = done.exitstatus == 0 and summary["failed"] == 0 and summary["error"] == 0
    step.exit_code = done.exitstatus
    if done.exitstatus == int(pytest.ExitCode.INTERRUPTED):
        step.status = "interrupted"
        step.error = "verification interrupted"
    elif healthy and summary["total"] > 0:
        step.status = "success"
    else:
        step.status = "failed"
        if summary["failed"] or summary["error"]:
            step.error = f"{summary['failed']} check(s) failed, {summary['error']} error(s)"
        elif summary["total"] == 0:
            step.error = "no verification check ran"
        else:
            step.error = f"verification session ended with pytest exit code {done.exitstatus}"
    step.duration_s = done.verification.get("duration_s")


# --- the session ---------------------------------------------------------------------------


class VerificationSession:
    """Collects the endpoint checks, captures once in a batch, and merges outcomes at the end."""

    def __init__(self, config: pytest.Config, context: RunContext) -> None:
        self.config = config
        self.context = context
        self.endpoints: list[EndpointSpec] = list(context.endpoints)
        self.readiness: Readiness | None = None
        self._batch: CaptureBatch | None = None
        self._extra: dict[tuple[str, str | None], Capture] = {}
        self._selected: list[Target] = []
        self._lock = threading.Lock()
        self._started = time.monotonic()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, items: list[pytest.Item]
    ) -> None:
        self.config.hook.pytest_recovery_endpoints(config=self.config, endpoints=self.endpoints)
        checks: list[tuple[EndpointSpec, str | None]] = []
        for spec in self.endpoints:
            if spec.per_matchup:
                checks.extend((spec, matchup_id) for matchup_id in self.context.matchup_ids)
            else:
                checks.append((spec, None))
        collector = RecoveryChecks.from_parent(
            session, name=COLLECTOR_NAME, nodeid=COLLECTOR_NAME, checks=checks
        )
        generated: list[pytest.Item] = collector.collect()
        # Reported like any collected node, so "collected N items", --collect-only and the JSON
        # report's collectors count the generated checks.
        result: list[pytest.Item | pytest.Collector] = [*generated]
        report = pytest.CollectReport(collector.nodeid, "passed", None, result)
        session.ihook.pytest_collectreport(report=report)
        items.extend(generated)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._selected = [item.target for item in session.items if isinstance(item, EndpointCheck)]

    def batch(self) -> CaptureBatch:
        """The session's capture batch: the launcher's (started before the session), or one
        started here for the selected checks when the first check or fixture needs it."""
        from recovery_plugin.http.capture import CaptureBatch

        with self._lock:
            if self._batch is None:
                context = self.context
                self._batch = (
                    context.prefetch
                    or CaptureBatch(
                        context.base_url,
                        self._selected,
                        context.capture,
                        redactor=context.redactor,
                        readiness_path=context.readiness_path,
                        cancel=context.cancel,
                        on_done=context.on_capture or (lambda capture: None),
                    ).start()
                )
            return self._batch

    def capture_for(self, target: Target) -> Capture:
        """``target``'s capture: from the batch as soon as it arrives, else fetched on its own
        (a check a hook added or moved, or one asked for outside the selection)."""
        from recovery_plugin.http.capture import fetch, make_client

        batch = self.batch()
        capture = batch.get(target)
        self.readiness = batch.readiness
        if capture is not None:
            return capture
        with self._lock:
            extra = self._extra.get(target.key)
            if extra is None or extra.path != target.path:
                with make_client(self.context.capture) as client:
                    extra = fetch(
                        client,
                        self.context.base_url,
                        target,
                        max_body=self.context.capture.max_body_bytes,
                        redactor=self.context.redactor,
                    )
                self._extra[target.key] = extra
            return extra

    def captures(self) -> dict[tuple[str, str | None], Capture]:
        """Every capture of the session, once all have arrived."""
        batch = self.batch()
        captures = {**batch.wait(), **self._extra}
        self.readiness = batch.readiness
        return captures

    def write_captures(self) -> None:
        from recovery_plugin.http.capture import write_capture_file

        if self.context.capture_path is None:
            return
        captures = self.captures() if self._batch is not None else {}
        write_capture_file(
            self.context.capture_path,
            self.context.redactor.text(self.context.base_url),
            captures.values(),
            self.readiness,
        )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        report_path = self.context.report_path
        if report_path is not None and report_path.is_file():
            terminalreporter.write_line(f"recovery report: {report_path}")

    @pytest.hookimpl(optionalhook=True)
    def pytest_json_runtest_metadata(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> dict[str, Any]:
        if isinstance(item, EndpointCheck):
            return {"endpoint": item.spec.name, "matchup_id": item.matchup_id}
        return {}

    @pytest.hookimpl(optionalhook=True)
    def pytest_json_modifyreport(self, json_report: dict[str, Any]) -> None:
        self.write_captures()
        if self.context.on_finish is None:
            return
        verification = summarise(json_report, self.context.redactor)
        verification["duration_s"] = round(time.monotonic() - self._started, 3)
        hook = self.config.hook
        self.context.on_finish(
            FinishedVerification(
                verification=verification,
                readiness=self.readiness.to_dict() if self.readiness else None,
                exitstatus=int(json_report.get("exitcode", 1)),
                extend_checklist=lambda report, lines: hook.pytest_recovery_checklist(
                    report=report, checklist=lines
                ),
                last_look=lambda report: hook.pytest_recovery_report(report=report),
            )
        )


def summarise(json_report: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """The runbook's ``verification`` section, from a pytest-json-report document."""
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    tests = []
    for test in json_report.get("tests", []):
        outcome = {"xfailed": "skipped", "xpassed": "passed"}.get(
            test.get("outcome"), test.get("outcome")
        )
        counts[outcome] = counts.get(outcome, 0) + 1
        stages = [
            test[when] for when in ("setup", "call", "teardown") if isinstance(test.get(when), dict)
        ]
        metadata = test.get("metadata") or {}
        tests.append(
            {
                "nodeid": test.get("nodeid"),
                "endpoint": metadata.get("endpoint"),
                "matchup_id": metadata.get("matchup_id"),
                "outcome": outcome,
                "duration_s": round(sum(float(s.get("duration", 0.0)) for s in stages), 4),
                "message": redactor.text(_message(stages)) if outcome != "passed" else None,
            }
        )
    summary = {**counts, "total": len(tests)}
    return {"summary": summary, "tests": tests}


def _message(stages: list[dict[str, Any]]) -> str:
    for stage in stages:
        if stage.get("outcome") in ("failed", "skipped") or stage.get("longrepr"):
            crash = stage.get("crash") or {}
            text = crash.get("message") or stage.get("longrepr") or ""
            return str(text)[:2000]
    return ""


# --- generated items -----------------------------------------------------------------------


class RecoveryChecks(pytest.Collector):
    """The generated checks: one per endpoint, and one per matchup id for per-matchup paths."""

    def __init__(self, *, checks: list[tuple[EndpointSpec, str | None]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._checks = checks

    def collect(self) -> list[pytest.Item]:
        items: list[pytest.Item] = []
        for spec, matchup_id in self._checks:
            name = spec.name if matchup_id is None else f"{spec.name}[{printable(matchup_id)}]"
            items.append(
                EndpointCheck.from_parent(self, name=name, spec=spec, matchup_id=matchup_id)
            )
        return items


class EndpointCheck(pytest.Item):
    """GET one endpoint (from the session's batch capture) and check it against its spec."""

    def __init__(self, *, spec: EndpointSpec, matchup_id: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.matchup_id = matchup_id
        from recovery_plugin.http.capture import Target

        self.target = Target(spec.name, spec.path, matchup_id if spec.per_matchup else None)
        self.add_marker(pytest.mark.recovery_check(spec.name, matchup_id))

    def runtest(self) -> None:
        from recovery_plugin.http.checks import evaluate

        capture = self.config.stash[SESSION].capture_for(self.target)
        reasons = evaluate(self.spec, capture)
        if reasons:
            raise CheckFailed(reasons)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.name}: GET {self.target.path}"


# --- fixtures ------------------------------------------------------------------------------


class CaptureView:
    """Read-only view of the session's captures, for users' own check files."""

    def __init__(self, session: VerificationSession) -> None:
        self._session = session

    @property
    def base_url(self) -> str:
        return self._session.context.base_url

    @property
    def matchup_ids(self) -> list[str]:
        return list(self._session.context.matchup_ids)

    @property
    def readiness(self) -> Readiness | None:
        self._session.captures()
        return self._session.readiness

    def get(self, endpoint: str, matchup_id: str | None = None) -> Capture:
        """The capture of ``endpoint`` (for ``matchup_id`` when its path names one)."""
        spec = next((e for e in self._session.endpoints if e.name == endpoint), None)
        if spec is None:
            known = ", ".join(e.name for e in self._session.endpoints)
            raise KeyError(f"no endpoint named {endpoint!r} (known: {known})")
        if spec.per_matchup and matchup_id is None:
            raise KeyError(f"endpoint {endpoint!r} is per matchup: give a matchup_id")
        from recovery_plugin.http.capture import Target

        target = Target(spec.name, spec.path, matchup_id if spec.per_matchup else None)
        return self._session.capture_for(target)

    def __iter__(self) -> Iterator[Capture]:
        return iter(list(self._session.captures().values()))


@pytest.fixture(scope="session")
def recovery_captures(pytestconfig: pytest.Config) -> CaptureView:
    """Captured responses of the run's endpoints (enable with ``--recovery-base-url``)."""
    session = pytestconfig.stash.get(SESSION, None)
    if session is None:
        pytest.fail(
            "recovery_captures needs the recovery plugin enabled: pass --recovery-base-url URL"
            " (or set the recovery_base_url ini option)",
            pytrace=False,
        )
    return CaptureView(session)
