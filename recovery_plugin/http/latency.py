"""Latency: ``max_ms`` per check, and an SLO per endpoint kind over all its checks.

``slo = { p95_ms = 300, p99_ms = 800, max_error_rate = 0.01 }`` on an endpoint is judged over
every check of that endpoint (one per matchup id for a ``{matchup_id}`` path). Percentiles use
the nearest-rank method (the smallest observed value with at least p% of samples at or below
it), so with few samples p95 is the slowest one: conservative, and always a real measurement.
Requests without a response (transport errors) count as errors, not as latencies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal

from recovery_plugin.errors import ConfigError, config_table
from recovery_plugin.records import dataclass

__all__ = [
    "NO_RESPONSE",
    "LatencySLO",
    "SLOResult",
    "Sample",
    "check_max_ms",
    "evaluate_slo",
    "parse_max_ms",
    "parse_slo",
    "percentile",
]

_SLO_KEYS = ("p95_ms", "p99_ms", "max_error_rate")


@dataclass(frozen=True)
class LatencySLO:
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_error_rate: float | None = None
    """A fraction: 0.01 allows one failed check in a hundred."""


@dataclass(frozen=True, slots=True)  # one per check, kept all session: no __dict__ each
class Sample:
    """One check's request: its latency (None without a response) and whether it errored."""

    elapsed_ms: float | None
    error: bool = False


NO_RESPONSE = Sample(None, error=True)
"""The sample of every check without a response: one, shared (a sample is frozen)."""


@dataclass(frozen=True)
class SLOResult:
    endpoint: str
    verdict: Literal["passed", "failed", "skipped"]
    reason: str
    samples: int
    errors: int
    error_rate: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any, key: str, *, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{key}: must be a number, got {value!r}")
    if value <= 0 and high is None:
        raise ConfigError(f"{key}: must be greater than 0, got {value!r}")
    if high is not None and not 0 <= value <= high:
        raise ConfigError(f"{key}: must be between 0 and {high:g} (a fraction), got {value!r}")
    return float(value)


def parse_max_ms(raw: Any, where: str) -> float:
    """``max_ms = 500`` on an endpoint; ``where`` is the key (``file: endpoints[0].max_ms``)."""
    return _number(raw, where)


def parse_slo(raw: object, where: str) -> LatencySLO:
    """Validate ``slo = { p95_ms, p99_ms, max_error_rate }`` (at least one)."""
    raw = config_table(
        raw, where, _SLO_KEYS, "a table like { p95_ms = 300, max_error_rate = 0.01 }"
    )
    if not raw:
        raise ConfigError(f"{where}: name at least one of {', '.join(_SLO_KEYS)}")
    return LatencySLO(
        p95_ms=_number(raw["p95_ms"], f"{where}.p95_ms") if "p95_ms" in raw else None,
        p99_ms=_number(raw["p99_ms"], f"{where}.p99_ms") if "p99_ms" in raw else None,
        max_error_rate=(
            _number(raw["max_error_rate"], f"{where}.max_error_rate", high=1.0)
            if "max_error_rate" in raw
            else None
        ),
    )


def check_max_ms(elapsed_s: float, max_ms: float | None) -> str | None:
    """The reason a response was too slow, or None."""
    if max_ms is None:
        return None
    took = elapsed_s * 1000
    if took <= max_ms:
        return None
    return f"too slow: {took:.0f} ms, over max_ms {max_ms:g}"


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of a non-empty sequence (``p`` in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def evaluate_slo(endpoint: str, samples: Sequence[Sample], slo: LatencySLO) -> SLOResult:
    """Measure ``samples`` and judge them against ``slo``; every broken target is a reason."""
    if not samples:
        return SLOResult(
            endpoint, "skipped", "no checks of this endpoint ran", 0, 0, None, None, None, None
        )
    times = [s.elapsed_ms for s in samples if s.elapsed_ms is not None]
    errors = sum(1 for s in samples if s.error or s.elapsed_ms is None)
    rate = errors / len(samples)
    p95 = round(percentile(times, 95), 1) if times else None
    p99 = round(percentile(times, 99), 1) if times else None
    slowest = round(max(times), 1) if times else None
    broken: list[str] = []
    for name, limit, measured in (("p95", slo.p95_ms, p95), ("p99", slo.p99_ms, p99)):
        if limit is None:
            continue
        if measured is None:
            broken.append(f"{name} unknown: no request got a response")
        elif measured > limit:
            broken.append(f"{name} {measured:g} ms over {limit:g} ms")
    if slo.max_error_rate is not None and rate > slo.max_error_rate:
        broken.append(
            f"error rate {rate:.1%} ({errors}/{len(samples)}) over {slo.max_error_rate:.1%}"
        )
    measured_text = (
        f"{len(samples)} checks, p95 {p95} ms, p99 {p99} ms, max {slowest} ms, errors {errors}"
    )
    if broken:
        reason = f"{endpoint} SLO failed: {'; '.join(broken)} ({measured_text})"
        return SLOResult(endpoint, "failed", reason, len(samples), errors, rate, p95, p99, slowest)
    reason = f"{endpoint} SLO met ({measured_text})"
    return SLOResult(endpoint, "passed", reason, len(samples), errors, rate, p95, p99, slowest)
