"""The faults document's schema: what each section may set, as dataclasses with rules.

The documentation of every key is the docstring of :mod:`recovery_plugin.sim.faults`; the
validation is :mod:`recovery_plugin.validate`'s, with JSON wording (objects, not tables).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

from recovery_plugin.records import dataclass
from recovery_plugin.validate import JSON_WORDING, Invalid, ValidationError, parse, rule

__all__ = [
    "ENDPOINT_TARGETS",
    "MAX_HUGE_MB",
    "NO_FAULTS",
    "EndpointFault",
    "Faults",
    "FaultsError",
    "IngestFaults",
    "ReprocessFaults",
    "ServiceFaults",
    "parse_faults",
]

ENDPOINT_TARGETS = ("health", "summary", "matchup", "openapi")
MAX_HUGE_MB = 1024

_SECONDS = rule(minimum=0)
_IDS = rule(allow_empty=True, expected="a list of id strings")


class FaultsError(ValueError):
    """The faults file is unreadable or invalid; the message names the file and the key."""


@dataclass(frozen=True)
class IngestFaults:
    fail_times: int = field(default=0, metadata=rule(minimum=0, expected="an integer >= 0"))
    always_fail: bool = False
    hang: bool = False
    exit_code: int | None = field(default=None, metadata=rule(minimum=0, maximum=255))
    delay: float = field(default=0.0, metadata=_SECONDS)
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
    fail_ids: frozenset[str] = field(default=frozenset(), metadata=_IDS)
    hang_ids: frozenset[str] = field(default=frozenset(), metadata=_IDS)
    delay: float = field(default=0.0, metadata=_SECONDS)


_NO_BODY = object()
_BODY_KEYS = ("body", "not_json", "not_utf8", "huge_mb")
_ALONE_KEYS = ("drop", "redirect_loop")


@dataclass(frozen=True)
class EndpointFault:
    status: int | None = field(default=None, metadata=rule(minimum=100, maximum=599))
    body: Any = _NO_BODY
    not_json: bool = False
    not_utf8: bool = False
    delay: float = field(default=0.0, metadata=_SECONDS)
    huge_mb: float | None = field(default=None, metadata=rule(above=0, maximum=MAX_HUGE_MB))
    drop: bool = False
    redirect_loop: bool = False
    break_contract: bool = False
    """The real answer, altered to violate the service's own ``/openapi.json`` (matchup only)."""

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

    def post_validate(self, given: frozenset[str]) -> None:
        """The keys that exclude each other (called by the validator with the keys given)."""
        chosen = {
            "body": self.has_body,
            "not_json": self.not_json,
            "not_utf8": self.not_utf8,
            "huge_mb": self.huge_mb is not None,
        }
        bodies = [name for name in _BODY_KEYS if chosen[name]]
        if len(bodies) > 1:
            raise Invalid(f"{' and '.join(bodies)} exclude each other; choose one")
        if self.break_contract and self.replaces_response:
            raise Invalid("break_contract alters the real answer: combine it only with delay")
        for alone in _ALONE_KEYS:
            others = sorted(given - {alone, "delay"})
            if getattr(self, alone) and others:
                raise Invalid(f"{alone} cannot be combined with {', '.join(others)}")


@dataclass(frozen=True)
class ServiceFaults:
    start_delay: float = field(default=0.0, metadata=_SECONDS)


def _check_target(name: str) -> None:
    target = "matchup" if name.startswith("matchup:") and name != "matchup:" else name
    if target not in ENDPOINT_TARGETS:
        raise Invalid(
            f"unknown endpoint target {name!r} (allowed: health, summary, matchup, matchup:<id>, openapi)"
        )


@dataclass(frozen=True)
class Faults:
    ingest: IngestFaults = field(default_factory=IngestFaults)
    reprocess: ReprocessFaults = field(default_factory=ReprocessFaults)
    endpoints: Mapping[str, EndpointFault] = field(
        default_factory=dict, metadata=rule(key_check=_check_target)
    )
    service: ServiceFaults = field(default_factory=ServiceFaults)

    def endpoint(self, target: str, matchup_id: str | None = None) -> EndpointFault | None:
        """The fault for ``target``; for ``matchup``, ``matchup:<id>`` wins over ``matchup``."""
        if target == "matchup" and matchup_id is not None:
            specific = self.endpoints.get(f"matchup:{matchup_id}")
            if specific is not None:
                return specific
        return self.endpoints.get(target)


NO_FAULTS = Faults()


def parse_faults(raw: object, source: str = "faults") -> Faults:
    """Validate a faults document; ``source`` (usually the file path) starts every error message."""
    try:
        return parse(Faults, raw, source=source, wording=JSON_WORDING)
    except ValidationError as exc:
        raise FaultsError(str(exc)) from None
