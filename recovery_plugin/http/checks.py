"""Expectations on a captured response, turned into reasons an operator can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recovery_plugin.config import EndpointSpec
from recovery_plugin.http.capture import Capture
from recovery_plugin.http.groups import Groups, flatten
from recovery_plugin.http.verdicts import CheckContext, more_reasons

__all__ = ["CheckContext", "evaluate", "evaluate_groups", "expected_json"]

_TRANSPORT_REASONS = {
    "connection_refused": "connection refused (is the service up?)",
    "connect_timeout": "timed out connecting",
    "timeout": "timed out waiting for the response",
    "too_many_redirects": "too many redirects",
    "connection_dropped": "the server closed the connection without a complete response",
    "dns_failure": "the host name does not resolve (DNS)",
    "tls_error": "TLS handshake failed (an https URL against a plain HTTP service,"
    " or a certificate that is not trusted)",
    "connection_reset": "the server reset the connection before a complete response",
    "capture_failed": "the harness could not capture it",
}


def expected_json(spec: EndpointSpec, matchup_id: str | None) -> Mapping[str, Any] | None:
    """``spec.expect_json`` with ``{matchup_id}`` filled in (other placeholders stay literal)."""
    if spec.expect_json is None:
        return None
    values = {"matchup_id": matchup_id or ""}
    return _fill(spec.expect_json, values)  # type: ignore[no-any-return]


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for name, replacement in values.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, Mapping):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def evaluate(
    spec: EndpointSpec, capture: Capture, context: CheckContext | None = None
) -> list[str]:
    """Every reason the capture fails ``spec``; empty when it passes (see :func:`evaluate_groups`)."""
    return flatten(evaluate_groups(spec, capture, context))


def evaluate_groups(
    spec: EndpointSpec, capture: Capture, context: CheckContext | None = None
) -> Groups:
    """The reasons the capture fails ``spec``, by assertion group (``response`` first).

    Judged on the raw response; the reasons are written (report, JUnit, console), so masked.
    With a ``context`` the endpoint's assertions, ``max_ms``, effect checks (against the
    baseline) and contract apply too; their notes (a contract not checked) go to
    ``context.notes``.
    """
    groups = _groups(spec, capture, context)
    return {name: [capture.mask(r) for r in reasons] for name, reasons in groups.items()}


def _groups(spec: EndpointSpec, capture: Capture, context: CheckContext | None) -> Groups:
    response = _basic(spec, capture)
    groups: Groups = {"response": response}
    if context is None or capture.error is not None or capture.truncated:
        return groups
    if capture.decode_error is not None or (response and capture.status != spec.expect_status):
        return groups
    groups.update(more_reasons(spec, capture, context))
    return groups


def _basic(spec: EndpointSpec, capture: Capture) -> list[str]:
    where = f"GET {capture.path}"
    if capture.error is not None:
        kind = capture.error["kind"]
        reason = _TRANSPORT_REASONS.get(kind, "request failed")
        return [f"{where}: {reason}: {capture.error['message']}"]
    reasons: list[str] = []
    if capture.status != spec.expect_status:
        detail = _detail(capture.body)
        reasons.append(
            f"{where}: status mismatch: expected {spec.expect_status}, got {capture.status}{detail}"
        )
    if capture.truncated:
        reasons.append(
            f"{where}: response body too large: more than {capture.body_bytes} bytes"
            " (the capture cap); truncated in the capture"
        )
        return reasons
    if capture.decode_error is not None:
        reasons.append(f"{where}: {capture.decode_error['message']}")
        return reasons
    if reasons:
        return reasons  # the body of an error status is not what the expectations describe
    expected = expected_json(spec, capture.matchup_id)
    if expected is not None or spec.expect_keys:
        if not isinstance(capture.body, dict):
            kind = type(capture.body).__name__ if capture.body is not None else "empty"
            return [f"{where}: body mismatch: expected a JSON object, got {kind}"]
        missing = [key for key in spec.expect_keys if key not in capture.body]
        if missing:
            reasons.append(f"{where}: body is missing keys: {', '.join(missing)}")
        if expected is not None:
            reasons.extend(f"{where}: {r}" for r in _subset_mismatches(expected, capture.body, ""))
    return reasons


def _subset_mismatches(
    expected: Mapping[str, Any], actual: Mapping[str, Any], prefix: str
) -> list[str]:
    reasons = []
    for key, want in expected.items():
        path = f"{prefix}{key}"
        if key not in actual:
            reasons.append(f"body mismatch at key {path!r}: expected {want!r}, key absent")
            continue
        got = actual[key]
        if isinstance(want, Mapping) and isinstance(got, Mapping):
            reasons.extend(_subset_mismatches(want, got, f"{path}."))
        elif got != want or (type(got) is not type(want) and not _both_numbers(got, want)):
            reasons.append(f"body mismatch at key {path!r}: expected {want!r}, got {got!r}")
    return reasons


def _both_numbers(a: Any, b: Any) -> bool:
    return all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))


def _detail(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return f" (detail: {body['detail'][:200]})"
    return ""
