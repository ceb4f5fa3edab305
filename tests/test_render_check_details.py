"""Poll attempts, contract notes and SLO measurements in every rendering of a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recovery_plugin.render.markdown import render_markdown
from recovery_plugin.render.views import render_html, render_text


def _report() -> dict[str, Any]:
    polled = {
        "nodeid": "recovery::matchup[m1]",
        "outcome": "failed",
        "duration_s": 1.6,
        "message": "still failing after 3 attempt(s)",
        "poll": {
            "outcome": "failed",
            "reason": "still failing",
            "duration_s": 1.6,
            "attempts": [
                {
                    "number": n,
                    "status": 200,
                    "passed": False,
                    "reason": "x",
                    "started_s": 0.0,
                    "elapsed_s": 0.01,
                }
                for n in (1, 2, 3)
            ],
        },
        "contract": {"outcome": "skipped", "source": "u", "sha256": None, "note": "no doc"},
        "notes": ["the service does not serve u (404): contract not checked"],
    }
    slo = {
        "nodeid": "recovery::slo[matchup]",
        "outcome": "failed",
        "duration_s": 0.0,
        "message": "matchup SLO failed",
        "slo": {
            "endpoint": "matchup",
            "verdict": "failed",
            "reason": "r",
            "samples": 3,
            "errors": 0,
            "error_rate": 0.0,
            "p95_ms": 12.5,
            "p99_ms": 13.0,
            "max_ms": 13.0,
        },
    }
    return {
        "run_id": "r",
        "mode": "verify",
        "status": "failed",
        "api_base": "http://127.0.0.1:1",
        "started_at": "2026-12-02T15:00:00.000+00:00",
        "duration_s": 2.0,
        "steps": [],
        "verification": {
            "summary": {"passed": 0, "failed": 2, "error": 0, "total": 2},
            "tests": [polled, slo],
        },
        "ops_checklist": [],
    }


def test_show_text_markdown_and_html_name_the_poll_the_note_and_the_slo(tmp_path: Path) -> None:
    report = _report()
    for page in (render_text(report), render_markdown(report), render_html(report, tmp_path)):
        assert "polled: failed after 3 attempt(s) over 1.6 s (statuses 200, 200, 200)" in page
        assert "note: the service does not serve u (404): contract not checked" in page
        assert "slo: p95 12.5 ms, p99 13.0 ms, error rate 0.0 over 3 check(s)" in page


def test_a_plain_check_gets_no_detail_lines(tmp_path: Path) -> None:
    report = _report()
    report["verification"]["tests"] = [
        {"nodeid": "recovery::health", "outcome": "passed", "duration_s": 0.1, "message": None}
    ]
    assert "polled:" not in render_text(report) and "slo:" not in render_markdown(report)
