"""Judging one generated check: its expectations, the baseline, the contract, and polling.

One :class:`CheckJudge` per session. It loads the OpenAPI document once (whichever check asks
first), reads the baseline capture once, caps every poll request with one semaphore of the
capture concurrency, stops polling when the run is cancelled, and keeps per-check records
(every poll attempt, contract notes) for the report and the latency samples for the SLO items.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from recovery_plugin.names import BEFORE_CAPTURE_NAME
from recovery_plugin.records import dataclass

if TYPE_CHECKING:
    from recovery_plugin.config import CaptureSpec, EndpointSpec
    from recovery_plugin.http.capture import Capture, Target
    from recovery_plugin.http.checks import CheckContext
    from recovery_plugin.http.contract import OpenAPILoad, SchemaContract
    from recovery_plugin.http.expectations import Expectations
    from recovery_plugin.http.latency import Sample
    from recovery_plugin.http.openapi_doc import FetchedDocument
    from recovery_plugin.http.poll import Observation
    from recovery_plugin.pytest_plugin.items import EndpointCheck
    from recovery_plugin.redact import Redactor

__all__ = ["CheckJudge", "CheckRecord", "JudgedRun"]


class JudgedRun(Protocol):
    """What the judge reads of the session spec (a protocol: the session imports the judge)."""

    base_url: str
    capture: CaptureSpec
    redactor: Redactor
    capture_path: Path | None
    baseline_path: Path | None
    reprocessed: bool | None
    cancel: threading.Event


@dataclass(slots=True)
class CheckRecord:
    """What the report keeps of one check beyond its outcome."""

    notes: list[str]
    contract: dict[str, Any] | None = None
    poll: dict[str, Any] | None = None
    groups: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.notes:
            found["notes"] = self.notes
        if self.contract is not None:
            found["contract"] = self.contract
        if self.poll is not None:
            found["poll"] = self.poll
        if self.groups is not None:
            found["groups"] = self.groups
        return found


class CheckJudge:
    def __init__(
        self,
        spec: JudgedRun,
        capture_for: Callable[[Target], Capture],
        recaptured: Callable[[Target, Capture], None] | None = None,
        fetched_document: Callable[[str], FetchedDocument | None] | None = None,
    ) -> None:
        self.spec = spec
        self._capture_for = capture_for
        self._fetched_document = fetched_document
        """The capture's answer for a document URL, when it fetched that one (None: fetch it)."""
        self._recaptured = recaptured
        """Told a polled check's last capture: the capture file keeps it, not the first."""
        self._lock = threading.Lock()
        self._limiter = threading.Semaphore(max(1, spec.capture.concurrency))
        self._baseline: dict[tuple[str, str | None], dict[str, Any]] | None = None
        self._openapi: dict[str, OpenAPILoad] = {}
        self._schemas: dict[str, SchemaContract] = {}
        self.records: dict[str, CheckRecord] = {}
        self._expectations: dict[int, tuple[EndpointSpec, Expectations]] = {}
        self.samples: dict[str, list[Sample]] = {}

    # --- what the run knows -------------------------------------------------------------

    def _baseline_path(self) -> Path | None:
        if self.spec.baseline_path is not None:
            return self.spec.baseline_path
        if self.spec.capture_path is not None:
            before = self.spec.capture_path.parent / BEFORE_CAPTURE_NAME
            return before if before.is_file() else None
        return None

    @functools.cached_property
    def _reprocessed_here(self) -> bool:
        """An ``apply`` run reprocessed its matchup ids (its before-capture is the sign)."""
        if self.spec.reprocessed is not None:
            return self.spec.reprocessed
        path = self.spec.capture_path
        return path is not None and (path.parent / BEFORE_CAPTURE_NAME).is_file()

    def baseline(self, target: Target) -> dict[str, Any] | None:
        from recovery_plugin.http.capture_file import read_captures

        with self._lock:
            if self._baseline is None:
                path = self._baseline_path()
                captures = read_captures(path) if path is not None else []
                self._baseline = {(str(c.get("name")), c.get("matchup_id")): c for c in captures}
            return self._baseline.get(target.key)

    def openapi(self, source: str) -> OpenAPILoad:
        from recovery_plugin.http.contract import load_openapi

        where = source.replace("{api_base}", self.spec.base_url)
        with self._lock:
            if where not in self._openapi:
                # None for a file, or a URL the capture did not fetch: loaded here then.
                fetched = self._fetched_document(where) if self._fetched_document else None
                self._openapi[where] = load_openapi(
                    where,
                    timeout=self.spec.capture.timeout,
                    redact=self.spec.redactor.text,
                    fetched=fetched,
                )
            return self._openapi[where]

    def schema(self, path: str, endpoint: str) -> SchemaContract:
        from recovery_plugin.http.contract import load_schema_file

        with self._lock:
            if path not in self._schemas:
                where = f"endpoint {endpoint!r}: expect_schema"
                self._schemas[path] = load_schema_file(Path(path), where)
            return self._schemas[path]

    def contract_summary(self) -> dict[str, Any] | None:
        """``verification.contract``: the OpenAPI document the run used (first one)."""
        for load in self._openapi.values():
            outcome = (
                "loaded" if load.document is not None else "missing" if load.missing else "failed"
            )
            note = (
                f"the service does not serve {load.source} (404): contract not checked"
                if load.missing
                else load.problem
            )
            return {"url": load.source, "sha256": load.sha256, "outcome": outcome, "note": note}
        return None

    # --- judging ------------------------------------------------------------------------

    def expectations(self, spec: EndpointSpec) -> Expectations:
        """``spec``'s parsed expectations, parsed once per endpoint (not once per check)."""
        from recovery_plugin.http.expectations import expectations_of

        known = self._expectations.get(id(spec))
        if known is None or known[0] is not spec:
            known = self._expectations[id(spec)] = (spec, expectations_of(spec))
        return known[1]

    def _context(self, item: EndpointCheck, capture: Capture) -> CheckContext:
        from recovery_plugin.config.profile import DEFAULT_OPENAPI
        from recovery_plugin.http.checks import CheckContext

        spec = item.spec
        return CheckContext(
            expectations=self.expectations(spec),
            reprocessed=item.matchup_id is not None and self._reprocessed_here,
            baseline=self.baseline(item.target),
            openapi=self.openapi(spec.openapi) if spec.openapi and capture.status else None,
            openapi_best_effort=spec.openapi == DEFAULT_OPENAPI,
            schema=self.schema(spec.expect_schema, spec.name) if spec.expect_schema else None,
        )

    def judge(self, item: EndpointCheck) -> list[str]:
        """Every reason ``item`` fails, after polling when its endpoint polls."""
        from recovery_plugin.errors import ConfigError
        from recovery_plugin.http.checks import evaluate_groups
        from recovery_plugin.http.groups import flatten, group_records
        from recovery_plugin.http.poll import Observation, poll_until

        capture = self._capture_for(item.target)
        try:
            context = self._context(item, capture)
        except ConfigError as exc:  # expect_schema names a file that cannot be used
            return [exc.message]
        groups = evaluate_groups(item.spec, capture, context)
        reasons = flatten(groups)
        poll = self.expectations(item.spec).poll
        record = CheckRecord(notes=context.notes, contract=context.contract)
        if reasons and poll is not None:
            first = Observation(
                capture.status,
                tuple(reasons),
                capture.body,
                capture.elapsed_s,
                (capture, context, groups),
            )
            result = poll_until(
                lambda: self._attempt(item),
                poll,
                first=first,
                matchup_id=item.matchup_id,
                limiter=self._limiter,
                cancel=self.spec.cancel,
            )
            record.poll = result.to_dict()
            if result.last is not None:
                first_capture = capture
                capture, context, groups = result.last.capture
                record.notes, record.contract = context.notes, context.contract
                if capture is not first_capture and self._recaptured is not None:
                    self._recaptured(item.target, capture)
            rest = list(result.last.reasons[1:]) if result.last is not None else []
            reasons = [] if result.passed else [result.reason, *rest]
            groups = {**groups, "poll": [] if result.passed else [result.reason]}
        record.groups = group_records(groups)
        with self._lock:
            self.records[item.nodeid] = record
            self.samples.setdefault(item.spec.name, []).append(_sample(capture))
        return reasons

    def _attempt(self, item: EndpointCheck) -> Observation:
        from recovery_plugin.http.checks import evaluate_groups
        from recovery_plugin.http.fetch import fetch, make_client
        from recovery_plugin.http.groups import flatten
        from recovery_plugin.http.poll import Observation

        with make_client(self.spec.capture) as client:
            capture = fetch(
                client,
                self.spec.base_url,
                item.target,
                max_body=self.spec.capture.max_body_bytes,
                redactor=self.spec.redactor,
            )
        context = self._context(item, capture)
        groups = evaluate_groups(item.spec, capture, context)
        return Observation(
            capture.status,
            tuple(flatten(groups)),
            capture.body,
            capture.elapsed_s,
            (capture, context, groups),
        )


def _sample(capture: Capture) -> Sample:
    from recovery_plugin.http.latency import NO_RESPONSE, Sample

    if capture.error is not None or capture.status is None:
        return NO_RESPONSE
    return Sample(round(capture.elapsed_s * 1000, 3), error=capture.status >= 500)
