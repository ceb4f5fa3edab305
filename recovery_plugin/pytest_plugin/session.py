"""The verification session: collects the generated checks, captures once in a batch, and
hands back a :class:`~recovery_plugin.report.result.VerificationResult`.

Registered only when the plugin is enabled (see :mod:`recovery_plugin.pytest_plugin.configure`):
by the launcher's :class:`SessionSpec`, or by the plain ``pytest --recovery-base-url`` gate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from recovery_plugin.config import CaptureSpec, EndpointSpec
from recovery_plugin.pytest_plugin.details import add_check_details
from recovery_plugin.pytest_plugin.items import (
    COLLECTOR_NAME,
    MARKER,
    EndpointCheck,
    RecoveryChecks,
    new_target,
    target_key,
)
from recovery_plugin.pytest_plugin.judge import CheckJudge
from recovery_plugin.pytest_plugin.protocol import CheapProtocol
from recovery_plugin.pytest_plugin.slo_items import SLOCheck, with_slo_items
from recovery_plugin.records import dataclass
from recovery_plugin.redact import Redactor
from recovery_plugin.report.result import NO_HOOKS, ReportHooks, VerificationResult, summarise

if TYPE_CHECKING:  # httpx is imported only once the plugin is enabled
    from recovery_plugin.http.arrivals import Arrivals
    from recovery_plugin.http.batch import Readiness
    from recovery_plugin.http.capture import Capture, Target
    from recovery_plugin.http.capture_file import CaptureFileStream

__all__ = [
    "SESSION",
    "SESSION_SPEC",
    "PytestReportHooks",
    "SessionSpec",
    "VerificationSession",
    "report_hooks",
]

SESSION_SPEC = pytest.StashKey["SessionSpec"]()
SESSION = pytest.StashKey["VerificationSession"]()


@dataclass(eq=False)  # registered as a pytest plugin object, so it must stay hashable
class SessionSpec:
    """What a verification session checks, and how; given by the launcher or by the gate."""

    base_url: str
    matchup_ids: list[str]
    endpoints: tuple[EndpointSpec, ...]
    capture: CaptureSpec
    redactor: Redactor
    capture_path: Path | None = None
    readiness_path: str | None = "/health"
    on_capture: Callable[[Capture], None] | None = None
    on_check: Callable[[bool], None] | None = None
    """Called once each check (or any test of the session) has finished: True when it failed."""
    cancel: threading.Event = field(default_factory=threading.Event)
    prefetch: Arrivals | None = None
    """A capture batch the launcher started before the session, overlapping pytest's start-up."""
    session: VerificationSession | None = None
    """The session made from this spec, once pytest is configured."""
    baseline_path: Path | None = None
    """The capture the effect checks compare with (``verify --baseline``); by default the
    run's ``api_capture.before.json`` next to ``capture_path``, when there is one."""
    reprocessed: bool | None = None
    """The matchup ids were reprocessed in this run; None: inferred from the before-capture."""

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[SESSION_SPEC] = self


class PytestReportHooks:
    """The report hooks, relayed to the session's ``config.hook`` when the report is finished."""

    def __init__(self, hook: Any) -> None:
        self._hook = hook

    def checklist(self, report: dict[str, Any], checklist: list[str]) -> None:
        self._hook.pytest_recovery_checklist(report=report, checklist=checklist)

    def last_look(self, report: dict[str, Any]) -> None:
        self._hook.pytest_recovery_report(report=report)


_REPORT_HOOKS = ("pytest_recovery_checklist", "pytest_recovery_report")
_PASSED_STAND_IN_STAGE: dict[str, Any] = {"duration": 0.0, "outcome": "passed"}
"""json-report's record of a stand-in setup or teardown phase (passed, no time, no output): one
dict shared by every check's record (two fresh dicts a check were ~0.4 kB, kept all session)."""


def report_hooks(hook: Any) -> ReportHooks:
    """The relay of the report hooks; none when no plugin implements them. The relay keeps the
    session's plugin manager, and so every plugin with what it kept of the session (the items,
    the terminal's reports, json-report's records: most of the memory of 100,000 checks), alive
    until the report is finished."""
    try:
        implemented = any(getattr(hook, name).get_hookimpls() for name in _REPORT_HOOKS)
    except AttributeError:  # not a pluggy hook relay we know: relay as always
        implemented = True
    return PytestReportHooks(hook) if implemented else NO_HOOKS


class VerificationSession:
    """Collects the endpoint checks, captures once in a batch, and merges outcomes at the end."""

    def __init__(self, config: pytest.Config, context: SessionSpec) -> None:
        self.config = config
        self.context = context
        self.endpoints: list[EndpointSpec] = list(context.endpoints)
        self.readiness: Readiness | None = None
        self._batch: Arrivals | None = None
        self._extra: dict[tuple[str, str | None], Capture] = {}
        self._selected: list[Target] = []
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._outcome: tuple[dict[str, Any], int] | None = None
        self._only_generated = False
        self._failing: set[str] = set()  # the running test failed a phase (for ``on_check``)
        self.judge = CheckJudge(
            context,
            self.capture_for,
            self.recaptured,
            lambda url: self.batch().document(url),
        )
        self._protocol = CheapProtocol(MARKER)

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
            session,
            name=COLLECTOR_NAME,
            nodeid=COLLECTOR_NAME,
            checks=checks,
            capture_for=self.capture_for,
            judge=self.judge.judge,
            target_for=self._target_for,
        )
        samples = self.judge.samples
        generated = with_slo_items(collector, collector.collect(), lambda n: samples.get(n, []))
        # Reported like any collected node, so "collected N items", --collect-only and the JSON
        # report's collectors count the generated checks.
        result: list[pytest.Item | pytest.Collector] = [*generated]
        report = pytest.CollectReport(collector.nodeid, "passed", None, result)
        session.ihook.pytest_collectreport(report=report)
        items.extend(generated)

    def _target_for(self, spec: EndpointSpec, matchup_id: str | None) -> Target:
        """The launcher's batch's target for the check, when it is the same request."""
        prefetch = self.context.prefetch
        known = prefetch.target(target_key(spec, matchup_id)) if prefetch is not None else None
        if known is not None and known.path_template == spec.path:
            return known
        return new_target(spec, matchup_id)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._selected = [item.target for item in session.items if isinstance(item, EndpointCheck)]
        # Only generated checks in the session: nobody reads a capture again once its check has
        # judged it (users' check files iterate over every capture: then all are kept).
        self._only_generated = all(isinstance(i, (EndpointCheck, SLOCheck)) for i in session.items)
        prefetch = self.context.prefetch
        if prefetch is not None and not self._releases(prefetch):
            prefetch.hold_at_most(None)  # every capture is kept: nothing to wait for

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> bool | None:
        """Our checks skip the setup and teardown phases they do not use (see ``protocol``)."""
        if isinstance(item, EndpointCheck) and self._protocol.applies(item):
            self._protocol.run(item)
            self._release(item)
            return True
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> pytest.TestReport | None:
        """A check skipped by a mark (``skip``, ``skipif``) is reported at the check itself:
        pytest would report it at the check's line in its file, and a generated check has
        neither (pytest stops with an internal error)."""
        excinfo = call.excinfo
        if not isinstance(item, EndpointCheck) or excinfo is None:
            return None
        when = call.when
        if not isinstance(excinfo.value, pytest.skip.Exception) or when == "collect":
            return None
        return pytest.TestReport(
            item.nodeid,
            item.location,
            {name: 1 for name in item.keywords},
            "skipped",
            (item.nodeid, None, str(excinfo.value.msg)),  # type: ignore[arg-type]  # no line
            when,
            [(f"Captured {key} {phase}", text) for phase, key, text in item._report_sections],
            call.duration,
            call.start,
            call.stop,
            item.user_properties,
        )

    def _release(self, item: EndpointCheck) -> None:
        """Drop ``item``'s capture from memory when the capture file already holds it."""
        batch = self._batch
        if batch is not None and self._releases(batch):
            batch.release(item.target)

    def _releases(self, batch: Arrivals) -> bool:
        """Whether each capture of ``batch`` is let go once its check has judged it."""
        stream = batch.stream
        return (
            self._only_generated and stream is not None and stream.path == self.context.capture_path
        )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and self.context.on_check is not None:
            self._failing.add(report.nodeid)

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        if self.context.on_check is not None:
            failed = nodeid in self._failing
            self._failing.discard(nodeid)
            self.context.on_check(failed)

    def batch(self) -> Arrivals:
        """The session's capture batch: the launcher's (started before the session), or one
        started here for the selected checks when the first check or fixture needs it."""
        with self._lock:
            if self._batch is None:
                context = self.context
                if context.prefetch is None:
                    from recovery_plugin.http.batch import CaptureBatch  # loads httpx
                    from recovery_plugin.http.openapi_doc import contract_documents
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
                        stream=self._capture_stream(),
                        documents=contract_documents(self.endpoints, context.base_url),
                    ).start()
                )
            return self._batch

    def _capture_stream(self) -> CaptureFileStream | None:
        from recovery_plugin.http.capture_file import CaptureFileStream

        path = self.context.capture_path
        if path is None:
            return None
        return CaptureFileStream(path, self.context.redactor.text(self.context.base_url))

    def capture_for(self, target: Target) -> Capture:
        """``target``'s capture: from the batch as soon as it arrives, else fetched on its own
        (a check a hook added or moved, or one asked for outside the selection)."""
        batch = self.batch()
        capture = batch.get(target)
        self.readiness = batch.readiness
        if capture is not None:
            return capture
        with self._lock:
            extra = self._extra.get(target.key)
            if extra is None or extra.path != target.path:
                from recovery_plugin.http.fetch import fetch, make_client  # loads httpx

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

    def recaptured(self, target: Target, capture: Capture) -> None:
        """A polled check's last attempt: the capture file keeps it in place of the first."""
        with self._lock:
            self._extra[target.key] = capture

    def captures(self) -> dict[tuple[str, str | None], Capture]:
        """Every capture of the session, once all have arrived."""
        batch = self.batch()
        captures = {**batch.wait(), **self._extra}
        self.readiness = batch.readiness
        return captures

    def write_captures(self) -> None:
        from recovery_plugin.http.capture_file import write_capture_file

        if self.context.capture_path is None:
            return
        batch = self._batch
        stream = batch.stream if batch is not None else None
        if batch is not None and stream is not None and stream.path == self.context.capture_path:
            batch.wait()  # every capture has arrived, so every one is in the file already
            self.readiness = batch.readiness
            if batch.released or not (self._extra.keys() & stream.keys):
                # a capture fetched again follows its first (readers keep the last one)
                stream.finish(self._extra.values())
                return
            stream.abandon()  # a capture fetched again replaces its first: write it whole
        prefetch = self.context.prefetch
        if prefetch is not None and prefetch.stream is not None and prefetch is not batch:
            prefetch.stream.abandon()
        captures = self.captures() if batch is not None else {}
        write_capture_file(
            self.context.capture_path,
            self.context.redactor.text(self.context.base_url),
            captures.values(),
            self.readiness,
        )

    @pytest.hookimpl(optionalhook=True)
    def pytest_json_runtest_metadata(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> dict[str, Any]:
        if isinstance(item, EndpointCheck):
            # Handed over: json-report's metadata keeps it from here on (a later phase of the
            # same item adds its endpoint and id again, the record's keys stay).
            record = self.judge.records.pop(item.nodeid, None)
            extra = record.to_dict() if record is not None else {}
            return {"endpoint": item.spec.name, "matchup_id": item.matchup_id, **extra}
        if isinstance(item, SLOCheck) and item.result is not None:
            return {"endpoint": item.spec.name, "matchup_id": None, "slo": item.result.to_dict()}
        return {}

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_json_runtest_stage(self, report: pytest.TestReport) -> dict[str, Any] | None:
        """json-report's stage record, built here when it is just the outcome and the report's
        own text (a check's reasons, kept as that one string, not a copy rendered from it):
        json-report renders every stage's ``longrepr`` through a terminal writer, passed stages
        included. Anything more (a traceback, captured output) is left to json-report."""
        extra = getattr(report, "_json_report_extra", None)
        if (extra and extra.get(report.when)) or hasattr(report, "node"):
            return None  # captured streams, or an xdist worker line: json-report's own
        longrepr = report.longrepr
        if longrepr is None and report.duration == 0.0 and report.outcome == "passed":
            return _PASSED_STAND_IN_STAGE
        stage: dict[str, Any] = {"duration": report.duration, "outcome": report.outcome}
        if longrepr is None:
            return stage
        if isinstance(longrepr, str) and longrepr and longrepr == longrepr.strip():
            stage["longrepr"] = longrepr
            return stage
        return None

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_json_modifyreport(self, json_report: dict[str, Any]) -> None:
        self.write_captures()
        verification = summarise(json_report, self.context.redactor)
        add_check_details(verification, json_report, self.judge)
        verification["duration_s"] = round(time.monotonic() - self._started, 3)
        if self._batch is not None:
            verification["concurrency"] = self._batch.concurrency()
        self._outcome = (verification, int(json_report.get("exitcode", 1)))

    def result(self, exitstatus: int | None = None) -> VerificationResult | None:
        """The session's outcome, once pytest-json-report has reported it (else None)."""
        if self._outcome is None:
            return None
        verification, reported_status = self._outcome
        return VerificationResult(
            exitstatus=reported_status if exitstatus is None else exitstatus,
            verification=verification,
            readiness=self.readiness.to_dict() if self.readiness else None,
            duration_s=float(verification["duration_s"]),
            hooks=report_hooks(self.config.hook),
        )
