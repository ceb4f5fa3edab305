"""Captures are judged on the raw response; only what is written is masked."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx

from recovery_plugin import BundleResult
from recovery_plugin.config import EndpointSpec
from recovery_plugin.http.capture import Capture, Target
from recovery_plugin.http.capture_file import read_captures, write_capture_file
from recovery_plugin.http.checks import evaluate
from recovery_plugin.http.fetch import fetch
from recovery_plugin.redact import MASK, Redactor
from recovery_plugin.sim.harness import SimulatedService

SimFactory = Callable[..., SimulatedService]
Runner = Callable[..., BundleResult]

# A key of every healthy summary body: a variable named like a secret whose value it is must
# neither fail the check (``expect_keys``) nor be written.
SUMMARY_KEY = "selection_policy_version"
ECHOED = "echoed-secret-4f1a9c"


def _fetch(handler: Callable[[httpx.Request], httpx.Response], redactor: Redactor) -> Capture:
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        return fetch(
            client,
            "http://svc.test",
            Target("health", "/health"),
            max_body=1 << 20,
            redactor=redactor,
        )


def test_a_secret_equal_to_an_expected_value_is_judged_raw_and_masked_when_written(
    tmp_path: Path,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"status": "ok", "echo": ECHOED},
            headers={"X-Request-Echo": f"by {ECHOED}", "X-Api-Key": "literal"},
        )

    capture = _fetch(handler, Redactor(["ok-status-value-1", ECHOED]))
    spec = EndpointSpec(name="health", path="/health", expect_json={"echo": ECHOED})

    assert evaluate(spec, capture) == []
    path = tmp_path / "api_capture.json"
    write_capture_file(path, "http://svc.test", [capture])
    written = path.read_text(encoding="utf-8")
    assert ECHOED not in written
    (stored,) = read_captures(path)
    assert stored["body"] == {"status": "ok", "echo": MASK}
    assert stored["headers"]["x-request-echo"] == f"by {MASK}"
    assert stored["headers"]["x-api-key"] == MASK


def test_a_failure_reason_quoting_a_secret_is_masked() -> None:
    capture = _fetch(lambda r: httpx.Response(200, json={"echo": ECHOED}), Redactor([ECHOED]))
    spec = EndpointSpec(name="health", path="/health", expect_json={"echo": "other"})

    (reason,) = evaluate(spec, capture)

    assert ECHOED not in reason
    assert MASK in reason


def test_a_healthy_service_passes_verify_when_a_secret_value_appears_in_its_body(
    recovery_sim: SimFactory, run_bundle: Runner, tmp_path: Path
) -> None:
    sim = recovery_sim(capture={"readiness_deadline": 5.0, "readiness_interval": 0.05})
    out = tmp_path / "runs"

    result = run_bundle(
        "verify",
        "--config",
        str(sim.config_path),
        "--output-dir",
        str(out),
        env={"MY_API_KEY": SUMMARY_KEY},
    )

    assert result.exit_code == 0, result.output
    (capture_file,) = out.glob("*/api_capture.json")
    (summary,) = [c for c in read_captures(capture_file) if c["name"] == "summary"]
    assert SUMMARY_KEY not in json.dumps(summary["body"])
    assert MASK in summary["body"]
