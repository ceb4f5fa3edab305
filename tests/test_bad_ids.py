"""One bad id never loses the other checks: each fails only its own check, with a reason; an id
that is not text at all (lone surrogates: non-UTF-8 bytes) is refused before anything runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from recovery_plugin import BundleResult
from recovery_plugin.config import CaptureSpec
from recovery_plugin.http.capture import Target
from recovery_plugin.http.fetch import fetch
from recovery_plugin.redact import Redactor
from recovery_plugin.sim.data import MATCHUP_IDS
from recovery_plugin.sim.harness import SimulatedService

Runner = Callable[..., BundleResult]

LONG_ASCII_ID = "x" * 10_000
# 10,000 Hangul syllables: 90,000 characters once percent-encoded, a URL httpx refuses to build.
URL_REJECTED_ID = "가" * 10_000


def test_each_bad_id_fails_only_its_own_check(
    seeded_sim: SimulatedService, run_bundle: Runner, tmp_path: Path
) -> None:
    sim = seeded_sim
    good = MATCHUP_IDS[0]
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps([LONG_ASCII_ID, URL_REJECTED_ID, good]), encoding="utf-8")
    result = run_bundle("verify", "--api-base", sim.base_url, "--matchup-file", str(ids), "--json")
    report = result.report
    assert report, result.output
    verification = report["verification"]
    assert verification is not None, result.output
    checks = {(c["endpoint"], c.get("matchup_id")): c for c in verification["tests"]}
    assert checks[("matchup", good)]["outcome"] == "passed", checks[("matchup", good)]["message"]
    assert checks[("health", None)]["outcome"] == "passed"
    for bad in (LONG_ASCII_ID, URL_REJECTED_ID):
        check = checks[("matchup", bad)]
        assert check["outcome"] == "failed"
        assert check["message"]
    rejected = result.capture("matchup", URL_REJECTED_ID)["error"]
    assert rejected["kind"] == "invalid_url" and "URL too long" in rejected["message"]


def test_fetch_turns_any_client_exception_into_a_capture_error() -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("the transport broke")

    with httpx.Client(transport=httpx.MockTransport(explode)) as client:
        capture = fetch(
            client,
            "http://127.0.0.1:9",
            Target("matchup", "/m/{matchup_id}", "A"),
            max_body=CaptureSpec().max_body_bytes,
            redactor=Redactor([]),
        )
    assert capture.error is not None
    assert capture.error["kind"] == "client_error"
    assert "the transport broke" in capture.error["message"]


@pytest.mark.parametrize("how", ["file", "flag"])
def test_an_id_that_is_not_utf8_is_refused_before_anything_runs(
    run_bundle: Runner, tmp_path: Path, how: str
) -> None:
    if how == "file":
        ids = tmp_path / "ids.json"
        ids.write_text('["ok", "bad\\udcff"]', encoding="utf-8")
        result = run_bundle("run", "--matchup-file", str(ids))
    else:
        result = run_bundle("run", "--matchup-id", "bad\udcff")
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert "\\udcff" in line and "UTF-8" in line
    assert len(line.splitlines()) == 1
