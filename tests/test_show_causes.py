"""``show`` (text, Markdown, HTML) explains each failed step; ``history`` says which runs are broken."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recovery_plugin.names import REPORT_NAME
from recovery_plugin.render.markdown import render_markdown
from recovery_plugin.render.views import list_runs, render_history, render_html, render_text

CONTROL_ID = "m\x1b[31m-red"


def _report(**extra: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "run_id": "20260101T000000Z-abc",
        "mode": "apply",
        "status": "failed",
        "api_base": "http://127.0.0.1:8100",
        "started_at": "2026-01-01T00:00:00.000+00:00",
        "duration_s": 3.0,
        "matchup_ids": [CONTROL_ID],
        "preflight": {"INTERNAL_JOB_TOKEN": True},
        "steps": [
            {
                "name": "reprocess",
                "mode": "apply",
                "command": ["python", "re.py"],
                "status": "failed",
                "exit_code": 3,
                "matchup_id": CONTROL_ID,
                "error": "exited with code 3",
                "tail": ["loading matchup", "ValueError: poll fingerprint mismatch"],
            }
        ],
        "evidence": {
            "diffs": [
                {
                    "endpoint": "summary",
                    "matchup_id": None,
                    "status_before": 200,
                    "status_after": 200,
                    "added": ["scope_breakdown.local"],
                    "removed": [],
                    "changed": {"as_of": {"before": "2026-01-01", "after": "2026-01-02"}},
                    "changed_any": True,
                }
            ]
        },
        "ops_checklist": [],
    }
    report.update(extra)
    return report


def test_show_text_gives_each_failed_steps_cause_last_output_and_evidence_values() -> None:
    text = render_text(_report())

    assert "cause: exit code 3" in text
    assert "ValueError: poll fingerprint mismatch" in text
    assert "as_of: '2026-01-01' -> '2026-01-02'" in text
    assert "+ scope_breakdown.local" in text
    assert "\x1b" not in text
    assert "m\\x1b[31m-red" in text


def test_show_markdown_and_html_give_the_cause_last_output_and_evidence_values(
    tmp_path: Path,
) -> None:
    markdown = render_markdown(_report())
    page = render_html(_report(), tmp_path)

    for rendered in (markdown, page):
        assert "exit code 3" in rendered
        assert "ValueError: poll fingerprint mismatch" in rendered
        assert "2026-01-02" in rendered
        assert "scope_breakdown.local" in rendered
    assert "\x1b" not in markdown


def _write_run(output_dir: Path, name: str, report: dict[str, Any] | str) -> None:
    run_dir = output_dir / name
    run_dir.mkdir(parents=True)
    text = report if isinstance(report, str) else json.dumps(report)
    (run_dir / REPORT_NAME).write_text(text, encoding="utf-8")


def test_history_lists_unreadable_and_stale_runs_as_such(tmp_path: Path) -> None:
    _write_run(tmp_path, "20260101T000000Z-ok", _report(run_id="20260101T000000Z-ok"))
    _write_run(tmp_path, "20260102T000000Z-cut", '{"run_id": "20260102T00')
    _write_run(
        tmp_path,
        "20260103T000000Z-dead",
        _report(
            run_id="20260103T000000Z-dead",
            status="running",
            started_at="2026-01-03T00:00:00.000+00:00",
        ),
    )
    _write_run(tmp_path, "20260104T000000Z-evil", _report(run_id="r\x1b]0;pwned\x07"))

    history = render_history(list_runs(tmp_path))

    lines = history.splitlines()
    (cut,) = [line for line in lines if "20260102T000000Z-cut" in line]
    assert "unreadable" in cut
    (dead,) = [line for line in lines if "20260103T000000Z-dead" in line]
    assert "stale" in dead
    assert "\x1b" not in history and "\x07" not in history
    assert "m\\x1b[31m-red" in history


def test_the_run_summary_escapes_control_characters_in_ids() -> None:
    from recovery_plugin.render.summary import render_summary

    lines = render_summary(_report(), "r.json")

    assert not any("\x1b" in line for line in lines)
    assert any("m\\x1b[31m-red" in line for line in lines)
