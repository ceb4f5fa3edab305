"""The capture's concurrency limit: the cap when the server is healthy, less under strain."""

from __future__ import annotations

from recovery_plugin.http.concurrency import AdaptiveLimit


def _answer(limit: AdaptiveLimit, count: int, *, status: int | None, elapsed_s: float) -> None:
    for _ in range(count):
        limit.acquire()
        limit.release(status=status, elapsed_s=elapsed_s, failed=status is None)


def test_a_healthy_server_keeps_the_cap() -> None:
    limit = AdaptiveLimit(8)
    _answer(limit, 200, status=200, elapsed_s=0.002)
    _answer(limit, 200, status=404, elapsed_s=0.002)  # a missing id is no strain
    assert limit.to_dict() == {"strategy": "adaptive", "cap": 8, "final": 8, "backoffs": 0}


def test_overload_statuses_halve_the_limit_down_to_one() -> None:
    limit = AdaptiveLimit(8)
    _answer(limit, 100, status=503, elapsed_s=0.002)
    report = limit.to_dict()
    assert report["final"] == 1
    assert report["backoffs"] == 3  # 8 -> 4 -> 2 -> 1


def test_transport_failures_back_off_and_recovery_grows_back() -> None:
    limit = AdaptiveLimit(4)
    _answer(limit, 8, status=None, elapsed_s=0.0)
    assert limit.limit < 4
    _answer(limit, 100, status=200, elapsed_s=0.002)
    assert limit.limit == 4


def test_growing_latency_backs_off_but_jitter_does_not() -> None:
    jitter = AdaptiveLimit(8)
    _answer(jitter, 50, status=200, elapsed_s=0.001)
    _answer(jitter, 50, status=200, elapsed_s=0.004)  # 4x slower, but only by 3 ms
    assert jitter.limit == 8
    slowing = AdaptiveLimit(8)
    _answer(slowing, 50, status=200, elapsed_s=0.01)
    _answer(slowing, 50, status=200, elapsed_s=0.5)
    assert slowing.limit < 8


def test_a_cap_of_one_is_fixed() -> None:
    limit = AdaptiveLimit(1)
    _answer(limit, 10, status=503, elapsed_s=0.002)
    assert limit.to_dict() == {"strategy": "fixed", "cap": 1, "final": 1, "backoffs": 0}
