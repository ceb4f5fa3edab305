"""Expectations on a captured response become reasons an operator can act on."""

from __future__ import annotations

from typing import Any

import pytest

from recovery_plugin.config import DEFAULT_ENDPOINTS, EndpointSpec
from recovery_plugin.http.capture import Capture
from recovery_plugin.http.checks import evaluate, expected_json

KOREAN_ID = "2026-서울시장|여론조사/A"


def _capture(
    body: Any = None, *, status: int | None = 200, path: str = "/x", **extra: Any
) -> Capture:
    return Capture(name="x", url="http://svc" + path, path=path, status=status, body=body, **extra)


def test_a_matching_response_has_no_reasons() -> None:
    spec = EndpointSpec(name="health", path="/health", expect_json={"status": "ok"})

    assert evaluate(spec, _capture({"status": "ok", "version": "1.2"}, path="/health")) == []


def test_status_mismatch_names_both_statuses_and_the_server_detail() -> None:
    spec = EndpointSpec(name="summary", path="/s", expect_json={"data_source": "article"})
    capture = _capture({"detail": "database is locked"}, status=503, path="/s")

    assert evaluate(spec, capture) == [
        "GET /s: status mismatch: expected 200, got 503 (detail: database is locked)"
    ]


def test_status_mismatch_without_detail_and_without_body_checks() -> None:
    spec = EndpointSpec(name="s", path="/s", expect_keys=("as_of",))

    assert evaluate(spec, _capture(None, status=404, path="/s")) == [
        "GET /s: status mismatch: expected 200, got 404"
    ]


def test_an_expected_non_200_status_passes() -> None:
    spec = EndpointSpec(name="gone", path="/old", expect_status=410)

    assert evaluate(spec, _capture({"detail": "gone"}, status=410, path="/old")) == []


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("connection_refused", "connection refused (is the service up?)"),
        ("connect_timeout", "timed out connecting"),
        ("timeout", "timed out waiting for the response"),
        ("too_many_redirects", "too many redirects"),
        ("connection_dropped", "the server closed the connection without a complete response"),
        ("http_error", "request failed"),
    ],
)
def test_transport_errors_become_one_precise_reason(kind: str, text: str) -> None:
    spec = EndpointSpec(name="health", path="/health")
    capture = _capture(status=None, path="/health", error={"kind": kind, "message": "boom"})

    assert evaluate(spec, capture) == [f"GET /health: {text}: boom"]


def test_a_truncated_body_is_reported_as_too_large_and_not_compared() -> None:
    spec = EndpointSpec(name="summary", path="/s", expect_json={"data_source": "article"})
    capture = _capture('{"data_source": "art', path="/s", truncated=True, body_bytes=1024)

    reasons = evaluate(spec, capture)

    assert len(reasons) == 1
    assert "too large" in reasons[0]
    assert "1024 bytes" in reasons[0]


def test_a_body_that_is_not_json_is_reported_with_the_decode_message() -> None:
    spec = EndpointSpec(name="health", path="/health", expect_json={"status": "ok"})
    capture = _capture(
        "<html>",
        path="/health",
        decode_error={"kind": "invalid_json", "message": "body is not JSON (Expecting value)"},
    )

    assert evaluate(spec, capture) == ["GET /health: body is not JSON (Expecting value)"]


def test_missing_keys_are_listed_in_order() -> None:
    spec = EndpointSpec(name="summary", path="/s", expect_keys=("as_of", "data_source", "scope"))

    assert evaluate(spec, _capture({"data_source": "article"}, path="/s")) == [
        "GET /s: body is missing keys: as_of, scope"
    ]


def test_the_default_summary_endpoint_requires_every_summary_key() -> None:
    summary = next(e for e in DEFAULT_ENDPOINTS if e.name == "summary")
    body = dict.fromkeys(summary.expect_keys, None)

    assert evaluate(summary, _capture(body, path=summary.path)) == []
    del body["scope_breakdown"]
    assert evaluate(summary, _capture(body, path=summary.path)) == [
        f"GET {summary.path}: body is missing keys: scope_breakdown"
    ]


def test_expect_json_is_a_subset_match_with_nested_paths() -> None:
    spec = EndpointSpec(
        name="m", path="/m", expect_json={"meta": {"source": "article", "rev": 2}, "ok": True}
    )

    good = {"meta": {"source": "article", "rev": 2, "extra": 1}, "ok": True, "more": []}
    assert evaluate(spec, _capture(good, path="/m")) == []

    bad = {"meta": {"source": "nesdc"}, "ok": True}
    assert evaluate(spec, _capture(bad, path="/m")) == [
        "GET /m: body mismatch at key 'meta.source': expected 'article', got 'nesdc'",
        "GET /m: body mismatch at key 'meta.rev': expected 2, key absent",
    ]


@pytest.mark.parametrize(
    ("want", "got", "passes"),
    [
        (1, 1.0, True),
        (2.5, 2.5, True),
        (True, 1, False),
        (1, True, False),
        ("1", 1, False),
        (None, None, True),
        (None, "null", False),
        ([1, "a"], [1, "a"], True),
        ([1, "a"], ["a", 1], False),
        ({"a": 1}, "{'a': 1}", False),
    ],
)
def test_expect_json_values_compare_strictly_by_type(want: Any, got: Any, passes: bool) -> None:
    spec = EndpointSpec(name="m", path="/m", expect_json={"v": want})

    reasons = evaluate(spec, _capture({"v": got}, path="/m"))

    assert (reasons == []) is passes, reasons


def test_matchup_placeholder_is_filled_with_the_raw_matchup_id() -> None:
    matchup = next(e for e in DEFAULT_ENDPOINTS if e.name == "matchup")
    path = "/api/v1/matchups/encoded"
    capture = _capture({"matchup_id": KOREAN_ID}, path=path, matchup_id=KOREAN_ID)

    assert expected_json(matchup, KOREAN_ID) == {"matchup_id": KOREAN_ID}
    assert evaluate(matchup, capture) == []

    other = _capture({"matchup_id": "other"}, path=path, matchup_id=KOREAN_ID)
    assert evaluate(matchup, other) == [
        f"GET {path}: body mismatch at key 'matchup_id': expected {KOREAN_ID!r}, got 'other'"
    ]


def test_expected_json_is_none_without_expectations() -> None:
    assert expected_json(EndpointSpec(name="a", path="/a"), "x") is None


@pytest.mark.parametrize(("body", "kind"), [([1, 2], "list"), ("ok", "str"), (None, "empty")])
def test_a_non_object_body_cannot_meet_object_expectations(body: Any, kind: str) -> None:
    spec = EndpointSpec(name="h", path="/h", expect_json={"status": "ok"})

    assert evaluate(spec, _capture(body, path="/h")) == [
        f"GET /h: body mismatch: expected a JSON object, got {kind}"
    ]


def test_without_body_expectations_any_body_passes() -> None:
    spec = EndpointSpec(name="h", path="/h")

    assert evaluate(spec, _capture([1, 2, 3], path="/h")) == []
