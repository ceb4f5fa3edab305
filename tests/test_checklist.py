"""The ops checklist: preflight, one line per step, and retry/rollback guides with stable prefixes."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from recovery_plugin.report.checklist import (
    MAX_REAPPLY_INLINE_IDS,
    build_checklist,
    write_ids_to_redo,
)
from recovery_plugin.report.model import Attempt, StepRecord
from recovery_plugin.report.writer import Report

KOREAN_ID = "2026-서울시장|여론조사/A"


def _attempts(*statuses: str) -> list[Attempt]:
    return [
        Attempt(
            attempt=i,
            status=status,  # type: ignore[arg-type]
            exit_code=0 if status == "success" else 1,
            started_at="2026-01-01T00:00:00.000+00:00",
            duration_s=1.0,
            log_path=f"out/run/ingest/attempt-{i}.log",
        )
        for i, status in enumerate(statuses, start=1)
    ]


def _report(
    steps: list[StepRecord],
    *,
    matchup_ids: list[str] | None = None,
    mode: str = "apply",
    verification: dict[str, Any] | None = None,
    readiness: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    report = Report(
        run_id="20260101T000000Z-abc",
        mode=mode,
        api_base="http://127.0.0.1:8100",
        output_dir="out",
        run_dir="out/run",
        started_at="2026-01-01T00:00:00.000+00:00",
        matchup_ids=list(matchup_ids or []),
        preflight={"DATABASE_URL": True, "INTERNAL_JOB_TOKEN": False},
        steps=steps,
        verification=verification,
        readiness=readiness,
        **extra,
    )
    return report.to_dict()


def _ingest(status: str = "success", attempts: int = 1) -> StepRecord:
    statuses = ["failed"] * (attempts - 1) + [status]
    return StepRecord(
        name="ingest",
        mode="apply",
        command=["python", "scripts/qa/run_ingest_with_retry.py"],
        status=status,  # type: ignore[arg-type]
        exit_code=0 if status == "success" else (None if status == "timeout" else 1),
        output_path="out/run/ingest/report.json",
        log_path=f"out/run/ingest/attempt-{attempts}.log",
        duration_s=12.34,
        attempts=_attempts(*statuses),
    )


def _reprocess(matchup_id: str, status: str = "success") -> StepRecord:
    return StepRecord(
        name="reprocess",
        mode="apply",
        command=["python", "scripts/qa/reprocess_single_matchup.py"],
        status=status,  # type: ignore[arg-type]
        exit_code=0 if status == "success" else 2,
        matchup_id=matchup_id,
        duration_s=3.0,
    )


def _capture(status: str) -> StepRecord:
    return StepRecord(name="capture", mode="verify", command=[], status=status)  # type: ignore[arg-type]


def _verification(*tests: dict[str, Any]) -> dict[str, Any]:
    failed = sum(1 for t in tests if t["outcome"] == "failed")
    error = sum(1 for t in tests if t["outcome"] == "error")
    passed = sum(1 for t in tests if t["outcome"] == "passed")
    return {
        "summary": {
            "passed": passed,
            "failed": failed,
            "error": error,
            "skipped": 0,
            "total": len(tests),
        },
        "tests": list(tests),
    }


def _guides(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("retry-guide:", "rollback-guide:"))]


def test_a_successful_run_lists_preflight_and_steps_without_guides() -> None:
    report = _report([_ingest(), _reprocess("m-1"), _capture("success")], matchup_ids=["m-1"])

    lines = build_checklist(report, "en")

    assert lines == [
        "preflight: DATABASE_URL ok",
        "preflight: INTERNAL_JOB_TOKEN missing",
        "step ingest: success (12.3s)",
        "step reprocess [m-1]: success (3.0s)",
        "step capture: success",
    ]


def test_a_failed_ingest_gets_a_retry_guide() -> None:
    report = _report([_ingest("failed", attempts=3)], matchup_ids=["m-1"])

    (guide,) = _guides(build_checklist(report, "en"))

    assert guide.startswith("retry-guide: ingest failed after 3 attempt(s), exit 1: ")
    # The preflight says INTERNAL_JOB_TOKEN is missing: that is the cause the guide names.
    assert "required environment variable(s) not set: INTERNAL_JOB_TOKEN" in guide
    assert "out/run/ingest/report.json" not in guide  # no such file: never named


def test_a_timed_out_ingest_gets_a_retry_guide_without_an_exit_code() -> None:
    report = _report([_ingest("timeout", attempts=1)])

    (guide,) = _guides(build_checklist(report, "en"))

    assert guide.startswith("retry-guide: ingest timeout after 1 attempt(s): ")


def test_an_interrupted_ingest_also_gets_a_retry_guide() -> None:
    report = _report([_ingest("interrupted")])

    assert _guides(build_checklist(report))[0].startswith("retry-guide: ingest interrupted")


@pytest.mark.parametrize("status", ["success", "skipped", "planned"])
def test_an_ingest_that_did_not_fail_gets_no_guide(status: str) -> None:
    assert _guides(build_checklist(_report([_ingest(status)]))) == []


def test_failed_reprocess_steps_get_one_rollback_guide_that_reruns_only_them() -> None:
    report = _report(
        [
            _ingest(),
            _reprocess("m-ok"),
            _reprocess(KOREAN_ID, "failed"),
            _reprocess("m 2", "timeout"),
        ],
        matchup_ids=["m-ok", KOREAN_ID, "m 2"],
        poll_fingerprint="fp-123",
        config_path="ops/recovery.toml",
    )

    (guide,) = _guides(build_checklist(report, "en"))

    assert guide.startswith(
        f"rollback-guide: reprocess failed/timeout for 2 matchup id(s): {KOREAN_ID}, m 2. "
    )
    assert "--mode dry-run" in guide
    assert "poll fingerprint" in guide
    command = guide.split("then re-apply only them: ", 1)[1]
    argv = shlex.split(command)
    assert argv[:6] == [
        "recovery-bundle",
        "run",
        "--mode",
        "apply",
        "--skip-ingest",
        "--api-base",
    ]
    assert argv[argv.index("--api-base") + 1] == "http://127.0.0.1:8100"
    assert argv[argv.index("--config") + 1] == "ops/recovery.toml"
    assert argv[argv.index("--poll-fingerprint") + 1] == "fp-123"
    ids = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--matchup-id"]
    assert ids == [KOREAN_ID, "m 2"]


def test_many_failed_ids_are_rerun_from_the_run_directorys_id_file(tmp_path: Path) -> None:
    ids = [f"m-{i}" for i in range(51)]
    report = _report([_reprocess(i, "failed") for i in ids], matchup_ids=ids)
    report["run_dir"] = str(tmp_path)
    write_ids_to_redo(tmp_path, ids)

    (guide,) = _guides(build_checklist(report, "en"))

    assert guide.startswith("rollback-guide: reprocess failed for 51 matchup id(s): m-0, m-1, ")
    argv = shlex.split(guide.split("then re-apply only them: ", 1)[1])
    assert "--matchup-id" not in argv
    assert argv[argv.index("--matchup-file") + 1] == str(tmp_path / "ids_to_redo.txt")


def test_fifty_failed_ids_are_still_listed_inline() -> None:
    ids = [f"m-{i}" for i in range(50)]
    report = _report([_reprocess(i, "failed") for i in ids], matchup_ids=ids)

    (guide,) = _guides(build_checklist(report, "en"))

    argv = shlex.split(guide.split("then re-apply only them: ", 1)[1])
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--matchup-id"] == ids
    assert "--matchup-file" not in argv


def test_a_verify_command_for_many_ids_names_the_id_file() -> None:
    ids = [f"m-{i}" for i in range(7)]
    report = _report([_capture("failed")], matchup_ids=ids, mode="verify")

    (guide,) = _guides(build_checklist(report, "en"))

    argv = shlex.split(guide.split("re-check with: ", 1)[1])
    assert argv[argv.index("--matchup-file") + 1] == "out/run/matchup_ids.json"


def test_a_failed_capture_gets_a_rollback_guide_naming_failed_endpoints() -> None:
    verification = _verification(
        {"nodeid": "checks::health", "endpoint": "health", "matchup_id": None, "outcome": "failed"},
        {
            "nodeid": "checks::summary",
            "endpoint": "summary",
            "matchup_id": None,
            "outcome": "passed",
        },
        {"nodeid": "checks::m", "endpoint": "matchup", "matchup_id": KOREAN_ID, "outcome": "error"},
        {"nodeid": "tests/test_extra.py::test_x", "outcome": "failed"},
    )
    report = _report(
        [_capture("failed")], matchup_ids=[KOREAN_ID], mode="verify", verification=verification
    )

    lines = build_checklist(report, "en")
    (guide,) = _guides(lines)

    assert "verification: 1 passed, 2 failed, 1 errors of 4" in lines
    assert guide.startswith(
        f"rollback-guide: capture failed for health, matchup[{KOREAN_ID}],"
        " tests/test_extra.py::test_x. "
    )
    assert guide.index("/health") < guide.index("/api/v1/dashboard/summary")
    command = guide.split("re-check with: ", 1)[1]
    argv = shlex.split(command)
    assert argv[:2] == ["recovery-bundle", "verify"]
    assert argv[argv.index("--matchup-id") + 1] == KOREAN_ID
    assert "--skip-ingest" not in argv


def test_a_capture_guide_names_the_first_failed_checks_and_counts_the_rest() -> None:
    """With 100,000 failed checks the guide stays one readable line (the report's tests list
    every one)."""
    failed = [
        {
            "nodeid": f"checks::m{n}",
            "endpoint": "matchup",
            "matchup_id": f"id-{n}",
            "outcome": "failed",
        }
        for n in range(MAX_REAPPLY_INLINE_IDS + 7)
    ]
    report = _report([_capture("failed")], mode="verify", verification=_verification(*failed))

    (guide,) = _guides(build_checklist(report, "en"))

    shown = ", ".join(f"matchup[id-{n}]" for n in range(MAX_REAPPLY_INLINE_IDS))
    assert guide.startswith(f"rollback-guide: capture failed for {shown}, ... and 7 more. ")
    assert f"id-{MAX_REAPPLY_INLINE_IDS}]" not in guide.split(". ", 1)[0]


def test_a_failed_capture_without_test_results_points_at_the_session() -> None:
    report = _report([_capture("failed")], mode="verify")

    (guide,) = _guides(build_checklist(report))

    assert guide.startswith("rollback-guide: capture failed for the verification session. ")


def test_every_failed_step_kind_gets_its_own_guide_in_order() -> None:
    report = _report(
        [_ingest("failed", 2), _reprocess("m-1", "failed"), _capture("failed")],
        matchup_ids=["m-1"],
    )

    guides = _guides(build_checklist(report))

    assert [g.split(" ", 2)[:2] for g in guides] == [
        ["retry-guide:", "ingest"],
        ["rollback-guide:", "reprocess"],
        ["rollback-guide:", "capture"],
    ]


def test_an_apply_without_matchup_ids_says_reprocess_was_skipped() -> None:
    lines = build_checklist(_report([_ingest()]), "en")

    assert "step reprocess: skipped (no --matchup-id given)" in lines


def test_a_dry_run_without_matchup_ids_does_not_mention_reprocess() -> None:
    lines = build_checklist(_report([_ingest("planned")], mode="dry-run"), "en")

    assert not any("reprocess" in line for line in lines)


def test_a_failed_readiness_wait_is_listed() -> None:
    readiness = {
        "ready": False,
        "url": "http://127.0.0.1:8100/health",
        "deadline_s": 30.0,
        "elapsed_s": 30.2,
        "attempts": [{"at": "t", "outcome": "HTTP 503"}] * 4,
    }

    lines = build_checklist(_report([], mode="verify", readiness=readiness), "en")

    assert (
        "readiness: http://127.0.0.1:8100/health did not answer 2xx within 30s (4 probes)" in lines
    )


def test_a_successful_readiness_wait_is_not_listed() -> None:
    readiness = {"ready": True, "url": "u", "deadline_s": 30.0, "elapsed_s": 1.0, "attempts": []}

    lines = build_checklist(_report([], mode="verify", readiness=readiness), "en")

    assert not any(line.startswith("readiness:") for line in lines)


# --- Korean --------------------------------------------------------------------------------


def test_korean_keeps_the_stable_prefixes_and_translates_the_prose() -> None:
    verification = _verification(
        {"nodeid": "n", "endpoint": "health", "matchup_id": None, "outcome": "failed"}
    )
    report = _report(
        [_ingest("failed", 3), _reprocess(KOREAN_ID, "failed"), _capture("failed")],
        matchup_ids=[KOREAN_ID],
        verification=verification,
    )

    lines = build_checklist(report, "ko")
    guides = _guides(lines)

    assert lines[:2] == ["사전 점검: DATABASE_URL 정상", "사전 점검: INTERNAL_JOB_TOKEN 누락"]
    assert "단계 ingest: failed (12.3s)" in lines
    assert f"단계 reprocess [{KOREAN_ID}]: failed (3.0s)" in lines
    assert "검증: 통과 0, 실패 1, 오류 0 / 전체 1" in lines
    assert len(guides) == 3
    assert guides[0].startswith("retry-guide: ingest failed — 3회 시도, exit 1.")
    assert guides[1].startswith(f"rollback-guide: reprocess failed — 매치업 1건: {KOREAN_ID}.")
    assert guides[2].startswith("rollback-guide: capture 실패 — health.")
    for guide in guides:
        assert "retry once" not in guide
        assert "Re-run them" not in guide
        assert "Restore /health first" not in guide
    command = guides[1].rsplit("다시 적용하세요: ", 1)[1]
    argv = shlex.split(command)
    assert argv[argv.index("--matchup-id") + 1] == KOREAN_ID


def test_korean_apply_without_matchup_ids_says_reprocess_was_skipped() -> None:
    lines = build_checklist(_report([_ingest()]), "ko")

    assert "단계 reprocess: 건너뜀 (--matchup-id 없음)" in lines


def test_korean_and_english_have_the_same_guide_prefixes() -> None:
    report = _report(
        [_ingest("failed", 2), _reprocess("m-1", "failed"), _capture("failed")],
        matchup_ids=["m-1"],
    )

    def prefixes(lang: str) -> list[str]:
        return [" ".join(g.split(" ", 2)[:2]) for g in _guides(build_checklist(report, lang))]

    assert (
        prefixes("ko")
        == prefixes("en")
        == [
            "retry-guide: ingest",
            "rollback-guide: reprocess",
            "rollback-guide: capture",
        ]
    )


def test_an_unknown_language_falls_back_to_english() -> None:
    report = _report([_ingest("failed", 1)])

    assert build_checklist(report, "fr") == build_checklist(report, "en")
