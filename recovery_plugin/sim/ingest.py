"""The ingest command: POST the ingest input to the service's job endpoint, with retries.

``python -m recovery_plugin.sim.ingest --api-base URL --input FILE --report PATH
[--max-retries N] [--backoff-seconds S] [--timeout S] [--dead-letter-dir DIR] [--faults PATH]``

Mirrors the real service's ``run_ingest_with_retry`` script: needs ``INTERNAL_JOB_TOKEN``, writes
a JSON report (``success``, ``attempts[]``, ``run_ids``, timings, failure classification), writes
a dead letter on failure when asked, exits 0 on success and 1 on failure (or the injected
``exit_code``). Uses only the standard library so that it starts fast.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from recovery_plugin.atomic import write_json_atomic
from recovery_plugin.sim import faults as faults_mod
from recovery_plugin.sim.clock import iso, utc_now
from recovery_plugin.sim.entry import run_command
from recovery_plugin.sim.faults import Faults
from recovery_plugin.sim.hang import hang_forever

__all__ = ["main"]

TOKEN_ENV = "INTERNAL_JOB_TOKEN"
JOB_PATH = "/api/v1/jobs/ingest"
MAX_RESPONSE_BYTES = 10 * 1024 * 1024


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recovery_plugin.sim.ingest",
        description="Run the ingest job against the (simulated) service, with retries.",
    )
    parser.add_argument("--api-base", required=True, help="service base URL")
    parser.add_argument("--input", type=Path, required=True, help="ingest input JSON file")
    parser.add_argument("--report", type=Path, required=True, help="where to write the report")
    parser.add_argument("--max-retries", type=int, default=0, help="retries after the first try")
    parser.add_argument("--backoff-seconds", type=float, default=0.2, help="first retry backoff")
    parser.add_argument("--timeout", type=float, default=30.0, help="request timeout (seconds)")
    parser.add_argument(
        "--dead-letter-dir", type=Path, default=None, help="dead letters on failure"
    )
    parser.add_argument(
        "--faults", default=None, help=f"faults file (default: ${faults_mod.FAULTS_ENV})"
    )
    return parser


def _failure(
    failure_class: str, failure_type: str, cause_code: str, error: str, retryable: bool
) -> dict[str, Any]:
    return {
        "failure_class": failure_class,
        "failure_type": failure_type,
        "cause_code": cause_code,
        "error": error,
        "retryable": retryable,
    }


def _detail(raw: bytes) -> str | None:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        text = raw[:200].decode("utf-8", "replace").strip()
        return text or None
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return None


def _classify_status(status: int, raw: bytes) -> tuple[dict[str, Any], Any]:
    """(attempt fields, parsed body) for an HTTP answer."""
    if status == 200:
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            fields = _failure("response", "invalid_response", "invalid_json", str(exc), False)
            return fields, None
        job_status = body.get("status") if isinstance(body, dict) else None
        if job_status == "success":
            return {"job_status": job_status}, body
        fields = _failure(
            "job", "job_failed", f"job_status_{job_status}", f"job status {job_status!r}", True
        )
        return {**fields, "job_status": job_status}, body
    detail = _detail(raw)
    error = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status in (401, 403):
        fields = _failure("auth", "http_error", f"http_{status}", error, False)
    elif status in (408, 429) or status >= 500:
        fields = _failure("server", "http_error", f"http_{status}", error, True)
    else:
        fields = _failure("client", "http_error", f"http_{status}", error, False)
    return {**fields, "detail": detail}, None


def _post(url: str, body: bytes, token: str, timeout: float) -> dict[str, Any]:
    """One request; returns the attempt's outcome fields (http_status, job_status, failure...)."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
        },
    )
    status: int | None = None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = int(response.status)
            raw = response.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        with exc:
            status = int(exc.code)
            raw = exc.read(MAX_RESPONSE_BYTES)
    except TimeoutError as exc:
        return _failure("timeout", "timeout", "request_timeout", f"timed out: {exc}", True)
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return _failure("timeout", "timeout", "request_timeout", f"timed out: {reason}", True)
        cause = (
            "connection_refused" if isinstance(reason, ConnectionRefusedError) else "network_error"
        )
        return _failure("network", "connection_error", cause, str(reason), True)
    except (http.client.HTTPException, ConnectionError) as exc:
        return _failure("network", "connection_error", "remote_disconnected", repr(exc), True)
    fields, parsed = _classify_status(status, raw)
    fields["http_status"] = status
    if isinstance(parsed, dict):
        fields["run_id"] = parsed.get("run_id")
    return fields


def _new_attempt(number: int, timeout: float) -> dict[str, Any]:
    return {
        "attempt": number,
        "http_status": None,
        "job_status": None,
        "failure_class": None,
        "failure_type": None,
        "retryable": False,
        "request_timeout_seconds": timeout,
        "error": None,
        "detail": None,
        "cause_code": None,
        "started_at": None,
        "finished_at": None,
        "duration_seconds": None,
        "next_backoff_seconds": None,
    }


class _Run:
    """Collects attempts and writes the report / dead letter."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.started = utc_now()
        self.attempts: list[dict[str, Any]] = []
        self.run_ids: list[int] = []

    def record(self, number: int, started: datetime, outcome: dict[str, Any]) -> dict[str, Any]:
        attempt = _new_attempt(number, self.args.timeout)
        finished = utc_now()
        for key, value in outcome.items():
            if key in attempt:
                attempt[key] = value
        attempt["retryable"] = bool(outcome.get("retryable"))
        attempt["started_at"] = iso(started)
        attempt["finished_at"] = iso(finished)
        attempt["duration_seconds"] = round((finished - started).total_seconds(), 3)
        self.attempts.append(attempt)
        run_id = outcome.get("run_id")
        if attempt["failure_class"] is None and isinstance(run_id, int):
            self.run_ids.append(run_id)
        return attempt

    def finish(self, success: bool, payload: Any = None) -> None:
        finished = utc_now()
        last = self.attempts[-1] if self.attempts else _new_attempt(0, self.args.timeout)
        reason = None if success else (last["error"] or last["cause_code"])
        report = {
            "success": success,
            "attempts": self.attempts,
            "run_ids": self.run_ids,
            "started_at": iso(self.started),
            "finished_at": iso(finished),
            "elapsed_seconds": round((finished - self.started).total_seconds(), 3),
            "failure_class": None if success else last["failure_class"],
            "failure_type": None if success else last["failure_type"],
            "cause_code": None if success else last["cause_code"],
            "failure_reason": reason,
        }
        self.args.report.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.args.report, report)
        if not success and self.args.dead_letter_dir is not None:
            self._dead_letter(report, payload)

    def _dead_letter(self, report: dict[str, Any], payload: Any) -> None:
        directory: Path = self.args.dead_letter_dir
        directory.mkdir(parents=True, exist_ok=True)
        stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
        path = directory / f"ingest_dead_letter_{stamp}.json"
        write_json_atomic(
            path,
            {
                "created_at": iso(utc_now()),
                "api_base": self.args.api_base,
                "input": str(self.args.input),
                "failure_class": report["failure_class"],
                "failure_type": report["failure_type"],
                "cause_code": report["cause_code"],
                "failure_reason": report["failure_reason"],
                "attempt_count": len(self.attempts),
                "payload": payload,
            },
        )
        print(f"[ingest] dead letter written: {path}", flush=True)


def _fail_early(run: _Run, outcome: dict[str, Any], payload: Any = None) -> None:
    run.record(1, utc_now(), outcome)
    run.finish(False, payload)
    print(f"[ingest] FAILED: {outcome['error']}", flush=True)


def _execute(args: argparse.Namespace, faults_path: Path | None, all_faults: Faults) -> int:
    faults = all_faults.ingest
    invocation = 0
    if faults_path is not None and faults_path.is_file():
        invocation = faults_mod.next_invocation(faults_path, "ingest", faults)
    if faults.delay:
        time.sleep(faults.delay)
    if faults.hang and faults_path is not None:
        hang_forever(faults_mod.hang_pid_path(faults_path, "ingest"))

    run = _Run(args)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        print(
            f"ingest: {TOKEN_ENV} is not set; cannot authenticate the ingest job", file=sys.stderr
        )
        _fail_early(
            run, _failure("config", "missing_env", "missing_token", f"{TOKEN_ENV} not set", False)
        )
        return 1
    if faults.print_secret:
        print(f"[ingest] debug: using token {token}", flush=True)
    try:
        payload = json.loads(args.input.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"ingest: cannot read input {args.input}: {exc}", file=sys.stderr)
        _fail_early(run, _failure("input", "invalid_input", "invalid_input", str(exc), False))
        return 1
    cause = faults.injected_failure(invocation)
    if cause is not None:
        message = f"injected failure ({cause}, invocation {invocation})"
        _fail_early(run, _failure("injected", "fault_injection", cause, message, False), payload)
        return faults.failure_exit_code

    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    url = args.api_base.rstrip("/") + JOB_PATH
    total = max(0, args.max_retries) + 1
    for number in range(1, total + 1):
        print(f"[ingest] POST {url} (attempt {number}/{total})", flush=True)
        started = utc_now()
        attempt = run.record(number, started, _post(url, body, token, args.timeout))
        if attempt["failure_class"] is None:
            run.finish(True)
            elapsed = (utc_now() - run.started).total_seconds()
            print(f"[ingest] success: run_ids={run.run_ids} in {elapsed:.2f}s", flush=True)
            return 0
        if not attempt["retryable"] or number == total:
            break
        backoff = round(args.backoff_seconds * (2 ** (number - 1)), 3)
        attempt["next_backoff_seconds"] = backoff
        print(
            f"[ingest] attempt {number} failed: {attempt['error']}; retry in {backoff}s", flush=True
        )
        time.sleep(backoff)
    run.finish(False, payload)
    print(
        f"[ingest] FAILED after {len(run.attempts)} attempt(s): {run.attempts[-1]['error']}",
        flush=True,
    )
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command("ingest", _execute, args)


if __name__ == "__main__":
    sys.exit(main())
