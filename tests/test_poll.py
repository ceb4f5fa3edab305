"""Polling until a check holds: backoff bounds, deadline, halt_on, cancellation, the shared cap.
A fake clock drives every test: no real waiting, no timed assertions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from recovery_plugin.errors import ConfigError
from recovery_plugin.http.poll import (
    Observation,
    PollSpec,
    backoff_strategy,
    parse_poll,
    poll_until,
)

WHERE = "recovery.toml: endpoints[2].poll"


class FakeTime:
    """A clock that only moves when the poll waits (or a request 'takes' time)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return False


def script(*observations: Observation, time: FakeTime | None = None) -> Any:
    items: Iterator[Observation] = iter(observations)
    calls: list[int] = []

    def check() -> Observation:
        calls.append(1)
        observation = next(items)
        if time is not None:
            time.now += observation.elapsed_s
        return observation

    check.calls = calls  # type: ignore[attr-defined]
    return check


FAIL = Observation(200, ("$.has_data == true: got false",), {"has_data": False}, 0.01)
OK = Observation(200, (), {"has_data": True}, 0.01)


def test_passes_once_the_data_lands() -> None:
    time = FakeTime()
    check = script(FAIL, FAIL, OK, time=time)
    result = poll_until(
        check, PollSpec(deadline=60, interval=1, max_interval=15), clock=time.clock, wait=time.wait
    )
    assert result.outcome == "passed" and result.passed
    assert [a.passed for a in result.attempts] == [False, False, True]
    assert result.attempts[0].reason == "$.has_data == true: got false"
    assert result.reason == "passed on attempt 3"
    assert result.last is OK
    assert result.duration_s == pytest.approx(sum(time.waits) + 0.03)
    assert result.to_dict()["attempts"][2]["number"] == 3


def test_first_observation_counts_as_attempt_one_without_a_request() -> None:
    time = FakeTime()
    check = script(OK, time=time)
    result = poll_until(check, PollSpec(deadline=10), first=FAIL, clock=time.clock, wait=time.wait)
    assert len(check.calls) == 1
    assert [a.number for a in result.attempts] == [1, 2]
    assert result.outcome == "passed"
    assert poll_until(script(), PollSpec(deadline=10), first=OK).attempts[0].passed


def test_the_deadline_catches_stale_data_and_the_waits_back_off_within_bounds() -> None:
    time = FakeTime()
    check = script(*[FAIL] * 50, time=time)
    spec = PollSpec(deadline=60, interval=1, max_interval=8)
    result = poll_until(check, spec, clock=time.clock, wait=time.wait)
    assert result.outcome == "failed"
    assert result.reason.startswith("still failing after ")
    assert "(poll deadline 60 s): $.has_data == true: got false" in result.reason
    # never past the deadline by more than the last request
    assert result.duration_s <= 60 + 0.01
    for n, waited in enumerate(time.waits[:-1], start=1):
        low = min(2 ** (n - 1), 8)
        assert low <= waited <= min(2 ** (n - 1) + 1, 8)
    assert time.waits[-1] <= 8  # the last wait is cut to the time left


def test_backoff_strategy_grows_exponentially_with_jitter_and_caps() -> None:
    wait = backoff_strategy(PollSpec(deadline=100, interval=0.5, max_interval=3))
    for attempt, low in ((1, 0.5), (2, 1.0), (3, 2.0)):
        assert low <= wait(attempt) <= low + 0.5
    assert wait(10) == 3


@pytest.mark.parametrize(
    ("halt_on", "observation", "reason"),
    [
        (
            [{"status": ["4XX"], "except": [404]}],
            Observation(403, ("status 403",)),
            "status 403 matches halt_on (4XX)",
        ),
        ([{"status": 410}], Observation(410, ("status 410",)), "status 410 matches halt_on (410)"),
        (
            [{"path": "$.state", "op": "==", "value": "failed"}],
            Observation(200, ("not ready",), {"state": "failed"}),
            'halt_on $.state == "failed" holds',
        ),
    ],
)
def test_halt_on_stops_at_once(
    halt_on: list[dict[str, Any]], observation: Observation, reason: str
) -> None:
    time = FakeTime()
    spec = parse_poll({"deadline": 60, "halt_on": halt_on}, WHERE)
    result = poll_until(script(observation, time=time), spec, clock=time.clock, wait=time.wait)
    assert result.outcome == "halted"
    assert len(result.attempts) == 1 and time.waits == []
    assert result.attempts[0].halted == reason
    assert result.reason.startswith(reason + ": stopped polling: ")


def test_excepted_status_and_transport_errors_keep_polling() -> None:
    time = FakeTime()
    spec = parse_poll({"deadline": 60, "halt_on": [{"status": ["4XX"], "except": [404]}]}, WHERE)
    not_yet = Observation(404, ("status mismatch: expected 200, got 404",))
    refused = Observation(None, ("connection refused",))
    result = poll_until(
        script(not_yet, refused, OK, time=time), spec, clock=time.clock, wait=time.wait
    )
    assert result.outcome == "passed"
    assert [a.status for a in result.attempts] == [404, None, 200]


def test_cancel_stops_the_wait() -> None:
    cancel = threading.Event()
    time = FakeTime()

    def wait(seconds: float) -> bool:
        cancel.set()
        return True

    result = poll_until(
        script(FAIL, OK, time=time),
        PollSpec(deadline=60),
        cancel=cancel,
        clock=time.clock,
        wait=wait,
    )
    assert result.outcome == "cancelled"
    assert len(result.attempts) == 1
    assert result.reason.startswith("cancelled after 1 attempt(s)")


def test_the_real_wait_returns_at_once_when_already_cancelled() -> None:
    cancel = threading.Event()
    cancel.set()
    result = poll_until(
        script(FAIL), PollSpec(deadline=3600, interval=3600, max_interval=3600), cancel=cancel
    )
    assert result.outcome == "cancelled"


def test_each_attempt_holds_the_shared_limiter_and_never_exceeds_it() -> None:
    limiter = threading.Semaphore(1)
    in_flight: list[int] = []
    peak = [0]

    def check() -> Observation:
        in_flight.append(1)
        peak[0] = max(peak[0], len(in_flight))
        assert not limiter.acquire(blocking=False)  # held by this attempt
        in_flight.pop()
        return OK

    threads = [
        threading.Thread(
            target=poll_until, args=(check, PollSpec(deadline=5)), kwargs={"limiter": limiter}
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak[0] == 1
    assert limiter.acquire(blocking=False)  # released after every attempt


def test_waiting_for_the_limiter_is_cancellable() -> None:
    limiter = threading.Semaphore(0)
    cancel = threading.Event()
    cancel.set()
    result = poll_until(script(OK), PollSpec(deadline=5), limiter=limiter, cancel=cancel)
    assert result.outcome == "cancelled" and result.attempts == ()


def test_parse_poll_defaults() -> None:
    spec = parse_poll({"deadline": 120}, WHERE)
    assert (spec.deadline, spec.interval, spec.max_interval, spec.halt_on) == (120.0, 1.0, 15.0, ())


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, ".deadline: required (seconds to keep trying)"),
        ({"deadline": 0}, ".deadline: must be greater than 0 and at most 3600, got 0"),
        ({"deadline": 7200}, ".deadline: must be greater than 0 and at most 3600, got 7200"),
        ({"deadline": "2m"}, ".deadline: must be a number of seconds, got '2m'"),
        ({"deadline": 10, "interval": True}, ".interval: must be a number of seconds, got True"),
        (
            {"deadline": 10, "interval": 5, "max_interval": 2},
            ".max_interval: must be at least interval (5), got 2",
        ),
        (
            {"deadline": 10, "every": 1},
            ".every: unknown key (known keys: deadline, interval, max_interval, halt_on)",
        ),
        ({"deadline": 10, "halt_on": {"status": 403}}, ".halt_on: must be an array of tables"),
        (
            {"deadline": 10, "halt_on": [{"status": ["4xy"]}]},
            ".halt_on[0].status[0]: must be a status code (403) or class ('4XX'), got '4xy'",
        ),
        (
            {"deadline": 10, "halt_on": [{"status": 403, "except": 404}]},
            ".halt_on[0].except: must be an array of status codes",
        ),
        (
            {"deadline": 10, "halt_on": [{"status": 403, "op": "=="}]},
            ".halt_on[0].op: unknown key (known keys: except, status)",
        ),
        (
            {"deadline": 10, "halt_on": [{"path": "$.state", "op": "=~", "value": 1}]},
            ".halt_on[0].op: unknown operator '=~'",
        ),
        (120, ": must be a table like { deadline = 120, interval = 1 }"),
    ],
)
def test_bad_poll_config_names_the_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_poll(raw, WHERE)
    assert info.value.message.startswith(WHERE + message)
