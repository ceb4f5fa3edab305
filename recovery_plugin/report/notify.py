"""Tell the team: post a short summary of a finished run to webhooks (``[notify]``).

Configuration (a ``[notify]`` table in the runbook)::

    [[notify.webhooks]]
    url = "{env:SLACK_WEBHOOK_URL}"          # http(s); may hold {env:NAME} secrets
    on = ["failed", "interrupted"]           # run statuses that post (default: these two)
    format = "slack"                         # "slack" ({"text": ...}) or "json" (default)
    headers = { Authorization = "Bearer {env:HOOK_TOKEN}" }
    timeout = 10                             # seconds per attempt
    retries = 2                              # extra attempts on a timeout, refused connection, 5xx or 429
    backoff = 1.0                            # first delay between attempts, doubling

Delivery never raises and never changes the run's outcome: each webhook that applies gets one
record (masked URL, attempts, HTTP status, error) for the report's ``notifications``. Payloads and
records pass the redactor, and the ``{env:NAME}`` values are masked in them too. httpx and
tenacity are imported only when something is sent.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from recovery_plugin.clock import now_iso
from recovery_plugin.config.notify import ENV_REF, WebhookSpec
from recovery_plugin.redact import MASK, Redactor

if TYPE_CHECKING:
    import httpx

__all__ = ["build_payload", "mask_url", "send_notifications", "summary_text"]

_FAILED_STEP = frozenset({"failed", "timeout", "interrupted"})
_FAILED_CHECK = frozenset({"failed", "error"})
_LIST_LIMIT = 5
_ERROR_BODY_CHARS = 200


def mask_url(url: str) -> str:
    """``scheme://host[:port]`` and ``/***`` for any path or query: a webhook URL's path is
    often its secret (Slack's are)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    rest = f"/{MASK}" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{rest}"


def _label(step: Mapping[str, Any]) -> str:
    if step.get("matchup_id") is None:
        return str(step.get("name"))
    return f"{step.get('name')} [{step['matchup_id']}]"


def _first_line(text: Any) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0] if lines else ""


def _facts(report: Mapping[str, Any]) -> dict[str, list[str]]:
    steps = [
        f"{_label(s)} ({s.get('status')}"
        + (f", exit {s['exit_code']}" if s.get("exit_code") is not None else "")
        + ")"
        for s in report.get("steps", [])
        if s.get("status") in _FAILED_STEP
    ]
    checks = [
        t["nodeid"] + (f": {_first_line(t.get('message'))}" if t.get("message") else "")
        for t in (report.get("verification") or {}).get("tests", [])
        if t.get("outcome") in _FAILED_CHECK
    ]
    guides = [
        line
        for line in report.get("ops_checklist", [])
        if line.startswith(("retry-guide:", "rollback-guide:"))
    ]
    return {"failed_steps": steps, "failed_checks": checks, "guides": guides}


def _shortlist(items: list[str]) -> list[str]:
    extra = len(items) - _LIST_LIMIT
    return items[:_LIST_LIMIT] + ([f"(+{extra} more)"] if extra > 0 else [])


def summary_text(report: Mapping[str, Any], report_path: str) -> str:
    """A few lines for a chat channel: status, what failed, the guides, where the report is."""
    duration = report.get("duration_s")
    took = f" in {duration:.1f}s" if isinstance(duration, int | float) else ""
    lines = [
        f"recovery-bundle {report.get('mode')}: {report.get('status')}{took}"
        f" (run {report.get('run_id')}, api {report.get('api_base')})"
    ]
    facts = _facts(report)
    for title, key in (("failed steps", "failed_steps"), ("failed checks", "failed_checks")):
        if facts[key]:
            lines.append(f"{title}: " + "; ".join(_shortlist(facts[key])))
    lines += _shortlist(facts["guides"])
    lines.append(f"report: {report_path}")
    return "\n".join(lines)


def build_payload(report: Mapping[str, Any], report_path: str, fmt: str) -> dict[str, Any]:
    """The body posted: ``{"text": ...}`` for Slack, the same text plus the facts for JSON."""
    text = summary_text(report, report_path)
    if fmt == "slack":
        return {"text": text}
    verification = report.get("verification") or {}
    return {
        "event": "recovery-bundle.run.finished",
        "run_id": report.get("run_id"),
        "status": report.get("status"),
        "mode": report.get("mode"),
        "api_base": report.get("api_base"),
        "duration_s": report.get("duration_s"),
        "verification": verification.get("summary"),
        **_facts(report),
        "report_path": report_path,
        "text": text,
    }


class _MissingEnv(Exception):
    pass


def _resolve(text: str, key: str, environ: Mapping[str, str], found: list[str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if not environ.get(name):
            raise _MissingEnv(f"{key}: environment variable {name} is not set")
        found.append(environ[name])
        return environ[name]

    return ENV_REF.sub(value, text)


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def send_notifications(
    report: Mapping[str, Any],
    report_path: str,
    specs: Sequence[WebhookSpec],
    redactor: Redactor,
    environ: Mapping[str, str],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Post to every webhook whose ``on`` lists the run's status; one record per post."""
    event = str(report.get("status"))
    due = [spec for spec in specs if event in spec.on]
    if not due:
        return []
    import httpx

    records = []
    with httpx.Client(follow_redirects=False, headers={"User-Agent": "recovery-bundle"}) as client:
        for spec in due:
            records.append(_notify_one(client, spec, report, report_path, redactor, environ, sleep))
    return records


def _notify_one(
    client: httpx.Client,
    spec: WebhookSpec,
    report: Mapping[str, Any],
    report_path: str,
    redactor: Redactor,
    environ: Mapping[str, str],
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "webhook": spec.key,
        "url": spec.url if ENV_REF.fullmatch(spec.url.strip()) else mask_url(spec.url),
        "event": str(report.get("status")),
        "format": spec.format,
        "sent_at": now_iso(),
        "delivered": False,
        "attempts": 0,
        "http_status": None,
        "error": None,
    }
    secrets: list[str] = []
    try:
        url = _resolve(spec.url, f"{spec.key}.url", environ, secrets)
        headers = {
            name: _resolve(value, f"{spec.key}.headers.{name}", environ, secrets)
            for name, value in (spec.headers or {}).items()
        }
    except _MissingEnv as exc:
        record["error"] = str(exc)
        return record
    record["url"] = mask_url(url)
    if urlsplit(url).scheme not in ("http", "https"):
        record["error"] = f"{spec.key}.url: not an http:// or https:// URL once resolved"
        return record
    secrets += [url, urlsplit(url).path]
    mask = Redactor(secrets)

    def clean(value: Any) -> Any:
        return mask.obj(redactor.obj(value))

    body = json.dumps(clean(build_payload(report, report_path, spec.format)), ensure_ascii=False)
    headers = {"Content-Type": "application/json", **headers}
    response, error, attempts = _post(client, spec, url, headers, body.encode("utf-8"), sleep)
    record["attempts"] = attempts
    if response is not None:
        record["http_status"] = response.status_code
        record["delivered"] = response.is_success
        if not response.is_success:
            detail = response.text[:_ERROR_BODY_CHARS].strip()
            error = f"HTTP {response.status_code}" + (f": {detail}" if detail else "")
    record["error"] = clean(error.replace(url, record["url"])) if error else None
    return record


def _post(
    client: httpx.Client,
    spec: WebhookSpec,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    sleep: Callable[[float], None],
) -> tuple[httpx.Response | None, str | None, int]:
    """(the last response, or None; a transport error, or None; the number of attempts)."""
    import httpx
    import tenacity

    attempts = 0

    def attempt() -> httpx.Response:
        nonlocal attempts
        attempts += 1
        response = client.post(url, content=body, headers=headers, timeout=spec.timeout)
        if response.status_code >= 500 or response.status_code == 429:
            raise _RetryableStatus(response)
        return response

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(spec.retries + 1),
        wait=tenacity.wait_exponential(multiplier=spec.backoff, max=max(spec.backoff, 30.0)),
        retry=tenacity.retry_if_exception_type((httpx.TransportError, _RetryableStatus)),
        sleep=sleep,
        reraise=True,
    )
    try:
        return retrying(attempt), None, attempts
    except _RetryableStatus as exc:
        return exc.response, None, attempts
    except httpx.TimeoutException:
        return None, f"timeout: no answer within {spec.timeout:g}s", attempts
    except httpx.ConnectError as exc:
        return None, f"connection refused: {_first_line(exc) or 'cannot connect'}", attempts
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {_first_line(exc)}", attempts
