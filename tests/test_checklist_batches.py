"""The checklist's lines for rollbacks, ``finally`` and batches, in English and Korean."""

from __future__ import annotations

from typing import Any

from recovery_plugin.report.checklist import GUIDE_PREFIXES, build_checklist


def _report() -> dict[str, Any]:
    return {
        "mode": "apply",
        "matchup_ids": ["a", "b", "c"],
        "run_dir": "/runs/r1",
        "api_base": "http://127.0.0.1:8100",
        "steps": [
            {"name": "reprocess", "matchup_id": "a", "status": "failed", "exit_code": 1},
            {
                "name": "rollback",
                "matchup_id": "a",
                "rollback_of": "reprocess",
                "status": "failed",
                "exit_code": 3,
                "log_path": "/runs/r1/rb.log",
            },
            {"name": "reprocess", "matchup_id": "b", "status": "skipped"},
            {"name": "reprocess", "matchup_id": "c", "status": "skipped"},
            {"name": "finally", "status": "success", "exit_code": 0},
        ],
        "batches": {
            "canary": "1",
            "batch_size": "1",
            "max_failures": None,
            "stopped_after": 1,
            "stop_reason": "skipped: canary batch 1 failed (1 reprocess step(s) failed)",
            "ids_left": ["b", "c"],
            "items": [
                {
                    "index": 1,
                    "kind": "canary",
                    "ids": ["a"],
                    "verdict": "failed",
                    "summary": "0 of 1",
                },
                {"index": 2, "kind": "batch", "ids": ["b"], "verdict": "skipped", "summary": None},
                {"index": 3, "kind": "batch", "ids": ["c"], "verdict": "skipped", "summary": None},
            ],
        },
    }


def test_a_failed_rollback_and_the_ids_left_with_the_resume_command() -> None:
    lines = build_checklist(_report())

    assert "rollback of reprocess [a] failed, exit 3: the change may be half-applied" in "\n".join(
        lines
    )
    assert "batch 1 (canary, 1 id(s)): failed (0 of 1)" in lines
    (resume,) = [line for line in lines if line.startswith("resume-guide:")]
    assert "2 id(s) left to do: b, c" in resume
    # The canary failed: the resume proves the fix on a canary again, in the operator's batches.
    assert resume.endswith("recovery-bundle run --resume /runs/r1 --canary 1 --batch-size 1")
    assert not any("finally" in line and "clean-up" in line for line in lines)  # it succeeded


def test_the_korean_checklist_keeps_the_prefix_and_translates_the_prose() -> None:
    lines = build_checklist(_report(), "ko")

    (resume,) = [line for line in lines if line.startswith(GUIDE_PREFIXES[-1])]
    assert resume.startswith("resume-guide: 배치 1 이후 중단")
    assert "남은 매치업 2건: b, c" in resume
    assert any(line.startswith("reprocess [a] 롤백 failed") for line in lines)


def test_no_batch_lines_without_batches() -> None:
    report = {**_report(), "batches": None}

    lines = build_checklist(report)
    assert not [line for line in lines if "batch" in line or line.startswith("resume-guide:")]
