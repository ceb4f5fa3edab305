"""The renderings of a finished report: the end-of-run summary, ``show`` text, Markdown, HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from recovery_plugin.names import CAPTURE_NAME
from recovery_plugin.render.markdown import render_markdown
from recovery_plugin.render.summary import display_width, format_seconds, render_summary
from recovery_plugin.render.views import render_html, render_text

KOREAN_ID = "20260603|광역자치단체장|11-000"
GUIDE = "rollback-guide: reprocess failed for 1 matchup id(s): " + KOREAN_ID
VERDICT = "3 passed, 1 failed, 0 errors of 4"


def _report() -> dict[str, Any]:
    return {
        "run_id": "20261202T150000Z-abcdef",
        "mode": "apply",
        "status": "failed",
        "api_base": "http://127.0.0.1:8080",
        "started_at": "2026-12-02T15:00:00.000+00:00",
        "duration_s": 12.5,
        "steps": [
            {"name": "ingest", "status": "success", "duration_s": 1.25, "exit_code": 0},
            {
                "name": "reprocess",
                "matchup_id": KOREAN_ID,
                "status": "failed",
                "duration_s": 3.0,
                "exit_code": 1,
                "error": "exited with code 1 (after 2 attempts)",
                "attempts": [{"attempt": 1}, {"attempt": 2}],
            },
            {"name": "capture", "status": "failed", "duration_s": None, "exit_code": None},
        ],
        "verification": {
            "summary": {"passed": 3, "failed": 1, "error": 0, "total": 4},
            "tests": [
                {"nodeid": "health", "outcome": "failed", "duration_s": 0.01, "message": "503"}
            ],
        },
        "ops_checklist": ["step ingest: success (1.2s)", GUIDE],
    }


def _columns(line: str, text: str) -> int:
    """The terminal column where ``text`` starts in ``line``."""
    return display_width(line[: line.index(text)])


def test_every_rendering_states_the_same_verdict(tmp_path: Path) -> None:
    report = _report()

    (capture,) = [line for line in render_summary(report, "r.json") if "  capture " in line]
    assert capture.endswith(f" failed            -  {VERDICT}")
    assert f"Verification: {VERDICT}\n" in render_text(report)
    assert f"### Checks: {VERDICT}\n" in render_markdown(report)


def test_the_status_column_lines_up_past_a_korean_matchup_id() -> None:
    report = _report()

    for lines in (render_summary(report, "r.json"), render_text(report).splitlines()):
        rows = [line for line in lines if line.startswith(("  ingest", "  reprocess", "  capture"))]
        assert len(rows) == 3, lines
        starts = {_columns(row, "success" if "success" in row else "failed") for row in rows}
        assert len(starts) == 1, rows


def test_a_step_error_is_indented_under_its_label_in_the_text_view() -> None:
    lines = render_text(_report()).splitlines()

    error = next(line for line in lines if "└" in line)
    row = next(line for line in lines if KOREAN_ID in line)
    assert _columns(error, "└") == _columns(row, "failed")
    assert error.endswith("└ exited with code 1 (after 2 attempts)")


def test_durations_are_right_aligned_and_a_missing_one_is_a_dash() -> None:
    assert format_seconds(1.25, 6, 1) == "   1.2s"
    assert format_seconds(123.456, 7, 2) == " 123.46s"
    assert format_seconds(None, 6, 1) == "      -"
    assert len(format_seconds(None, 7, 2)) == len(format_seconds(0, 7, 2))


def test_guides_stand_out_in_the_summary_markdown_and_html(tmp_path: Path) -> None:
    report = _report()
    (tmp_path / CAPTURE_NAME).write_text("not json", encoding="utf-8")

    assert GUIDE in render_summary(report, "r.json")
    assert "step ingest: success (1.2s)" not in render_summary(report, "r.json")
    assert f"### Guides\n\n- {GUIDE.replace('|', chr(92) + '|')}\n" in render_markdown(report)
    page = render_html(report, tmp_path)
    assert '<li class="guide">rollback-guide:' in page
    assert '<li class="">step ingest' in page
    assert "<p>None.</p>" in page  # an unreadable capture file shows no captures, no traceback


def test_the_html_page_shows_the_capture_a_polled_check_was_judged_on(tmp_path: Path) -> None:
    def capture(name: str, status: int, matchup_id: str | None = None) -> dict[str, object]:
        return {"name": name, "matchup_id": matchup_id, "url": f"http://127.0.0.1:1/{name}",
                "status": status, "elapsed_s": 0.01, "body": {"status": status}}  # fmt: skip

    captures = [capture("matchup", 404, "m-1"), capture("health", 200),
                capture("matchup", 503, "m-1"), capture("matchup", 200, "m-1")]  # fmt: skip
    (tmp_path / CAPTURE_NAME).write_text(json.dumps({"captures": captures}), encoding="utf-8")

    page = render_html(_report(), tmp_path)

    summaries = re.findall(r"<summary>(.*?)</summary>", page)
    assert summaries == ["matchup m-1 — 200 in 0.01s", "health  — 200 in 0.01s"]


def test_the_html_page_shows_each_captured_response(tmp_path: Path) -> None:
    captures = [{"name": "health", "url": "http://127.0.0.1:1/health", "status": 200,
                 "elapsed_s": 0.01, "body": {"status": "ok"}}]  # fmt: skip
    (tmp_path / CAPTURE_NAME).write_text(json.dumps({"captures": captures}), encoding="utf-8")

    page = render_html(_report(), tmp_path)

    assert "<summary>health  — 200 in 0.01s</summary>" in page
    assert "&quot;status&quot;: &quot;ok&quot;" in page
