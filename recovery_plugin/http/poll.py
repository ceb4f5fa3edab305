"""Poll until it holds: re-run a failing check with exponential backoff and jitter.

``poll = { deadline = 120, interval = 1, max_interval = 15 }``: data after a reprocess often lands
seconds later, so a failing check is re-captured until it passes or the deadline passes. The
waits come from tenacity's ``wait_exponential_jitter`` (imported on first use): attempt ``n``
waits ``min(interval * 2**(n-1) + U(0, interval), max_interval)``, cut to the time left.
``halt_on`` conditions stop at once (a 403, ``$.state == "failed"``): waiting cannot help.

Load: the attempts of one check run one after the other (one request in flight per check), and
each request holds the shared ``limiter`` semaphore, so many polling checks never exceed the
capture concurrency. A set ``cancel`` event stops the wait and the poll (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, field
from typing import Any, Literal

from recovery_plugin.errors import ConfigError, config_table
from recovery_plugin.http.assertions import Assertion, holds, parse_assertion
from recovery_plugin.records import dataclass

__all__ = [
    "HaltCondition",
    "Observation",
    "PollAttempt",
    "PollResult",
    "PollSpec",
    "parse_poll",
    "poll_until",
]

_POLL_KEYS = ("deadline", "interval", "max_interval", "halt_on")
MAX_DEADLINE_S = 3600.0


@dataclass(frozen=True)
class HaltCondition:
    """Stop polling when the status is in ``status`` (codes or ``"4XX"`` classes, minus
    ``except_status``), or when ``assertion`` holds on the body."""

    status: tuple[str, ...] = ()
    except_status: tuple[int, ...] = ()
    assertion: Assertion | None = None
    where: str = ""

    def matches(self, observation: Observation, matchup_id: str | None) -> str | None:
        """Why this condition halts on ``observation``, or None."""
        code = observation.status
        if self.status:
            if code is None or code in self.except_status:
                return None
            if any(_status_matches(pattern, code) for pattern in self.status):
                return f"status {code} matches halt_on ({', '.join(self.status)})"
            return None
        assertion = self.assertion
        if (
            assertion is not None
            and code is not None
            and holds(assertion, observation.body, matchup_id)
        ):
            return f"halt_on {assertion.label(matchup_id)} holds"
        return None


def _status_matches(pattern: str, code: int) -> bool:
    if pattern.upper().endswith("XX"):
        return str(code)[0] == pattern[0]
    return str(code) == pattern


@dataclass(frozen=True)
class PollSpec:
    deadline: float
    """Seconds from the first attempt after which no new attempt starts."""
    interval: float = 1.0
    max_interval: float = 15.0
    halt_on: tuple[HaltCondition, ...] = ()


@dataclass(frozen=True)
class Observation:
    """What one attempt saw: status (None = no response), failure reasons (empty = passed)."""

    status: int | None
    reasons: tuple[str, ...] = ()
    body: Any = None
    elapsed_s: float = 0.0
    capture: Any = None
    """The caller's capture object, handed back in :attr:`PollResult.last`."""

    @property
    def passed(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class PollAttempt:
    number: int
    status: int | None
    passed: bool
    reason: str | None
    started_s: float
    """Offset from the start of the poll."""
    elapsed_s: float
    halted: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PollResult:
    outcome: Literal["passed", "failed", "halted", "cancelled"]
    reason: str
    attempts: tuple[PollAttempt, ...]
    duration_s: float
    last: Observation | None = field(default=None, compare=False)

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "duration_s": round(self.duration_s, 3),
            "attempts": [a.to_dict() for a in self.attempts],
        }


# --- configuration ----------------------------------------------------------------------------


def parse_poll(raw: object, where: str) -> PollSpec:
    """Validate ``poll = {...}``; ``where`` names it (``recovery.toml: endpoints[2].poll``)."""
    raw = config_table(raw, where, _POLL_KEYS, "a table like { deadline = 120, interval = 1 }")
    if "deadline" not in raw:
        raise ConfigError(f"{where}.deadline: required (seconds to keep trying)")
    deadline = _seconds(raw["deadline"], f"{where}.deadline", high=MAX_DEADLINE_S)
    interval = _seconds(raw.get("interval", 1.0), f"{where}.interval", high=MAX_DEADLINE_S)
    max_interval = _seconds(raw.get("max_interval", max(15.0, interval)), f"{where}.max_interval")
    if max_interval < interval:
        raise ConfigError(
            f"{where}.max_interval: must be at least interval ({interval:g}), got {max_interval:g}"
        )
    halts = raw.get("halt_on", [])
    if not isinstance(halts, list):
        raise ConfigError(f"{where}.halt_on: must be an array of tables")
    return PollSpec(
        deadline=deadline,
        interval=interval,
        max_interval=max_interval,
        halt_on=tuple(_halt(h, f"{where}.halt_on[{i}]") for i, h in enumerate(halts)),
    )


def _seconds(value: Any, key: str, *, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{key}: must be a number of seconds, got {value!r}")
    if value <= 0 or (high is not None and value > high):
        limit = f" and at most {high:g}" if high is not None else ""
        raise ConfigError(f"{key}: must be greater than 0{limit}, got {value!r}")
    return float(value)


def _halt(raw: object, where: str) -> HaltCondition:
    if not isinstance(raw, Mapping):
        raise ConfigError(f'{where}: must be a table: {{ status = ["4XX"] }} or an assertion')
    if "status" not in raw:
        return HaltCondition(assertion=parse_assertion(raw, where), where=where)
    for key in raw:
        if key not in ("status", "except"):
            raise ConfigError(f"{where}.{key}: unknown key (known keys: except, status)")
    codes = raw["status"] if isinstance(raw["status"], list) else [raw["status"]]
    patterns = []
    for i, code in enumerate(codes):
        text = str(code) if isinstance(code, int) and not isinstance(code, bool) else code
        valid = isinstance(text, str) and len(text) == 3 and text[0] in "12345"
        if not valid or not (text[1:].isdigit() or text[1:].upper() == "XX"):
            raise ConfigError(
                f"{where}.status[{i}]: must be a status code (403) or class ('4XX'), got {code!r}"
            )
        patterns.append(text.upper())
    excepted = raw.get("except", [])
    if not isinstance(excepted, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in excepted
    ):
        raise ConfigError(f"{where}.except: must be an array of status codes, like [404]")
    return HaltCondition(status=tuple(patterns), except_status=tuple(excepted), where=where)


# --- polling ----------------------------------------------------------------------------------


def backoff_strategy(spec: PollSpec) -> Callable[[int], float]:
    """Seconds to wait after attempt ``n`` (from 1), before the deadline cut."""
    import tenacity

    # Unit-scaled so the same call works on every tenacity >= 8.2 (``multiplier`` is newer).
    unit = tenacity.wait_exponential_jitter(max=spec.max_interval / spec.interval, jitter=1)
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})

    def wait(attempt: int) -> float:
        state.attempt_number = attempt
        return float(unit(state)) * spec.interval

    return wait


def poll_until(
    check: Callable[[], Observation],
    spec: PollSpec,
    *,
    first: Observation | None = None,
    matchup_id: str | None = None,
    limiter: threading.Semaphore | None = None,
    cancel: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[float], bool] | None = None,
) -> PollResult:
    """Run ``check`` until it passes, a halt condition matches, the deadline passes or
    ``cancel`` is set. ``first`` is an attempt already made (the batch capture): it counts as
    attempt 1 without a request. ``wait(seconds)`` sleeps and returns True when cancelled
    (default: ``cancel.wait``); tests pass a fake ``clock``/``wait``.
    """
    cancel = cancel or threading.Event()
    sleep = wait or cancel.wait
    backoff = backoff_strategy(spec)
    start = clock()
    offset = first.elapsed_s if first is not None else 0.0
    attempts: list[PollAttempt] = []
    observation = first
    while True:
        if observation is None:
            started = clock() - start + offset
            observation = _attempt(check, limiter, cancel)
            if observation is None:
                return _result(
                    "cancelled",
                    "cancelled while waiting to poll",
                    attempts,
                    clock() - start + offset,
                )
        else:
            started = 0.0
        halted = None if observation.passed else _halted(spec, observation, matchup_id)
        number = len(attempts) + 1
        reason = observation.reasons[0] if observation.reasons else None
        attempts.append(
            PollAttempt(
                number,
                observation.status,
                observation.passed,
                reason,
                round(started, 3),
                observation.elapsed_s,
                halted,
            )
        )
        total = clock() - start + offset
        if observation.passed:
            return _result("passed", f"passed on attempt {number}", attempts, total, observation)
        if halted is not None:
            return _result(
                "halted", f"{halted}: stopped polling: {reason}", attempts, total, observation
            )
        left = spec.deadline - total
        if left <= 0:
            return _result(
                "failed",
                f"still failing after {number} attempt(s) over {total:.1f} s (poll deadline "
                f"{spec.deadline:g} s): {reason}",
                attempts,
                total,
                observation,
            )
        if cancel.is_set() or sleep(min(backoff(number), left)):
            return _result(
                "cancelled",
                f"cancelled after {number} attempt(s): {reason}",
                attempts,
                clock() - start + offset,
                observation,
            )
        observation = None


def _attempt(
    check: Callable[[], Observation], limiter: threading.Semaphore | None, cancel: threading.Event
) -> Observation | None:
    if limiter is None:
        return check()
    while not limiter.acquire(timeout=0.05):
        if cancel.is_set():
            return None
    try:
        return check()
    finally:
        limiter.release()


def _halted(spec: PollSpec, observation: Observation, matchup_id: str | None) -> str | None:
    for condition in spec.halt_on:
        why = condition.matches(observation, matchup_id)
        if why is not None:
            return why
    return None


def _result(
    outcome: Literal["passed", "failed", "halted", "cancelled"],
    reason: str,
    attempts: Sequence[PollAttempt],
    duration: float,
    last: Observation | None = None,
) -> PollResult:
    return PollResult(outcome, reason, tuple(attempts), duration, last)
