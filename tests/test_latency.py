"""Latency limits: max_ms per check and the per-endpoint SLO (measured values and a verdict)."""

from __future__ import annotations

from typing import Any

import pytest

from recovery_plugin.errors import ConfigError
from recovery_plugin.http.latency import (
    LatencySLO,
    Sample,
    check_max_ms,
    evaluate_slo,
    parse_max_ms,
    parse_slo,
    percentile,
)

WHERE = "recovery.toml: endpoints[2].slo"


def test_max_ms() -> None:
    assert check_max_ms(0.2, 500) is None
    assert check_max_ms(0.5, 500) is None
    assert check_max_ms(0.75, 500) == "too slow: 750 ms, over max_ms 500"
    assert check_max_ms(9.0, None) is None


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile([10.0, 500.0], 95) == 500  # few samples: the slowest
    assert percentile([7.0], 99) == 7


def test_slo_met_reports_the_measurements() -> None:
    samples = [Sample(float(ms)) for ms in range(10, 110)]
    result = evaluate_slo("matchup", samples, LatencySLO(p95_ms=200, p99_ms=300, max_error_rate=0))
    assert result.verdict == "passed"
    assert (result.samples, result.errors, result.p95_ms, result.p99_ms, result.max_ms) == (
        100,
        0,
        104.0,
        108.0,
        109.0,
    )
    assert (
        result.reason
        == "matchup SLO met (100 checks, p95 104.0 ms, p99 108.0 ms, max 109.0 ms, errors 0)"
    )
    assert result.to_dict()["verdict"] == "passed"


def test_slo_failures_name_every_broken_target() -> None:
    samples = [Sample(50.0)] * 8 + [Sample(900.0, error=True), Sample(None, error=True)]
    result = evaluate_slo(
        "matchup", samples, LatencySLO(p95_ms=300, p99_ms=800, max_error_rate=0.1)
    )
    assert result.verdict == "failed"
    assert result.error_rate == pytest.approx(0.2)
    assert result.reason.startswith(
        "matchup SLO failed: p95 900 ms over 300 ms; p99 900 ms over 800 ms; error rate 20.0% (2/10) over 10.0%"
    )


def test_slo_without_any_response_or_samples() -> None:
    failed = evaluate_slo("health", [Sample(None)], LatencySLO(p95_ms=100))
    assert failed.verdict == "failed"
    assert "p95 unknown: no request got a response" in failed.reason
    skipped = evaluate_slo("health", [], LatencySLO(p95_ms=100))
    assert skipped.verdict == "skipped" and skipped.reason == "no checks of this endpoint ran"


def test_parse_slo() -> None:
    assert parse_slo({"p95_ms": 300, "max_error_rate": 0}, WHERE) == LatencySLO(300.0, None, 0.0)
    assert parse_max_ms(250, "w") == 250.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, ": name at least one of p95_ms, p99_ms, max_error_rate"),
        ({"p90_ms": 1}, ".p90_ms: unknown key (known keys: p95_ms, p99_ms, max_error_rate)"),
        ({"p95_ms": 0}, ".p95_ms: must be greater than 0, got 0"),
        ({"p99_ms": "1s"}, ".p99_ms: must be a number, got '1s'"),
        ({"max_error_rate": 5}, ".max_error_rate: must be between 0 and 1 (a fraction), got 5"),
        ({"max_error_rate": True}, ".max_error_rate: must be a number, got True"),
        ([1], ": must be a table like { p95_ms = 300, max_error_rate = 0.01 }"),
    ],
)
def test_bad_slo_config_names_the_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_slo(raw, WHERE)
    assert info.value.message == WHERE + message


def test_bad_max_ms() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^recovery.toml: endpoints\[0\]\.max_ms: must be greater than 0, got -5$",
    ):
        parse_max_ms(-5, "recovery.toml: endpoints[0].max_ms")
