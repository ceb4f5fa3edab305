"""Issue-9 faults whose tests were missing: a wall clock stepped back mid-step, secrets in the
GitHub step summary and the Markdown/HTML views, and a gzip bomb under the body cap."""

from __future__ import annotations

import gzip
import http.server
import itertools
import os
import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_reliability import FAST_CAPTURE, FAST_STEP, _apply_args

from conftest import KOREAN_ID
from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.config import StepSpec
from recovery_plugin.redact import Redactor
from recovery_plugin.report.model import StepRecord

ReportCheck = Callable[[dict[str, Any]], None]


def test_a_wall_clock_stepped_back_mid_step_never_makes_a_duration_negative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, assert_valid_report: ReportCheck
) -> None:
    import recovery_plugin.run.process as process
    import recovery_plugin.run.steps as steps
    from recovery_plugin.report.writer import Report

    # Each reading of the wall clock is an hour earlier than the one before.
    hours = itertools.count(23, -1)
    monkeypatch.setattr(process, "now_iso", lambda: f"2026-12-03T{next(hours):02d}:00:00.000+00:00")
    monkeypatch.setattr(steps, "now_iso", lambda: f"2026-12-03T{next(hours):02d}:00:00.000+00:00")
    argv = [sys.executable, "-c", "import time; time.sleep(0.3)"]
    record = StepRecord(name="ingest", mode="apply", command=argv)
    spec = StepSpec(name="ingest", command=tuple(argv), timeout=30.0)

    steps.run_step(
        record, spec, argv, step_dir=tmp_path, env=dict(os.environ), cwd=None,
        redactor=Redactor(), cancel=threading.Event(),
    )  # fmt: skip

    assert record.status == "success"
    assert record.finished_at is not None and record.started_at is not None
    assert record.finished_at < record.started_at  # the wall clock did go back
    assert record.duration_s is not None and 0.3 <= record.duration_s < 10
    assert 0.3 <= record.attempts[0].duration_s < 10
    report = Report(
        run_id="20261203T000000Z-abcdef", mode="apply", api_base="http://127.0.0.1:8100", output_dir=str(tmp_path),
        run_dir=str(tmp_path), started_at="2026-12-03T23:00:00.000+00:00", steps=[record],
        status="success",
    )  # fmt: skip
    assert_valid_report(report.to_dict())


def test_secrets_never_reach_the_step_summary_or_the_markdown_and_html_views(
    recovery_sim: RecoverySim, run_bundle: RunBundle, tmp_path: Path
) -> None:
    # The failing ingest prints the token: its last output lines are in every view.
    faults = {"ingest": {"print_secret": True, "always_fail": True}}
    sim = recovery_sim(
        faults=faults, steps={"ingest": FAST_STEP}, capture=FAST_CAPTURE,
        secret_env=["INTERNAL_JOB_TOKEN"],
    )  # fmt: skip
    sim.set_faults({**faults, "endpoints": {"summary": {"body": {"echo": sim.token}}}})
    summary = tmp_path / "step-summary.md"
    result = run_bundle(
        *_apply_args(sim, tmp_path / "runs", KOREAN_ID),
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip

    assert result.exit_code == 1, result.output
    assert result.run_dir is not None
    views = {"step summary": summary.read_text(encoding="utf-8")}
    for form in ("text", "markdown", "html"):
        shown = run_bundle("show", str(result.run_dir), "--format", form)
        assert shown.exit_code == 0, shown.output
        views[form] = shown.output
    for name, text in views.items():
        assert "using token ***" in text, name  # the secret was there: masked
    leaked = {name: sim.token in text for name, text in views.items()}
    assert not any(leaked.values()), leaked


# --- a gzip bomb ----------------------------------------------------------------------------------

_BOMB_MB = 200
_CAP = 1024 * 1024


@pytest.fixture(scope="module")
def gzip_bomb_url() -> Iterator[str]:
    """A server answering every GET with 200 MB of zeros, gzip-compressed to about 200 KB."""
    body = gzip.compress(b"\0" * (_BOMB_MB * 1024 * 1024), compresslevel=9)

    class Bomb(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Bomb)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_gzip_bomb_is_cut_at_the_cap_and_memory_stays_bounded(gzip_bomb_url: str) -> None:
    from recovery_plugin.config.schema import CaptureSpec
    from recovery_plugin.http.capture import Target
    from recovery_plugin.http.fetch import fetch, make_client

    spec = CaptureSpec(max_body_bytes=_CAP, timeout=30.0)
    tracemalloc.start()
    try:
        with make_client(spec) as client:
            captures = [
                fetch(client, gzip_bomb_url, Target("bomb", f"/bomb/{n}"), max_body=_CAP,
                      redactor=Redactor())
                for n in range(4)
            ]  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    for capture in captures:
        assert capture.error is None, capture.error
        assert capture.truncated
        assert capture.body_bytes is not None and capture.body_bytes <= _CAP
    # 200 MB decompressed per answer: only about the cap (and a decoder's chunk) is ever held.
    assert peak < 64 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
