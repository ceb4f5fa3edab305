"""Each failed step's guide names its cause (en and ko), only artifacts that exist, every id left to do."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from recovery_plugin.report.causes import step_cause
from recovery_plugin.report.checklist import build_checklist
from recovery_plugin.report.model import StepRecord
from recovery_plugin.report.writer import Report


def _report(
    steps: list[StepRecord], *, preflight: dict[str, bool] | None = None, **extra: Any
) -> dict[str, Any]:
    return Report(
        run_id="r1",
        mode="apply",
        api_base="http://127.0.0.1:8100",
        output_dir="out",
        run_dir="out/r1",
        started_at="2026-01-01T00:00:00.000+00:00",
        matchup_ids=extra.pop("matchup_ids", []),
        preflight=preflight if preflight is not None else {"INTERNAL_JOB_TOKEN": True},
        steps=steps,
        **extra,
    ).to_dict()


def _ingest(status: str, exit_code: int | None, error: str | None = None, **kw: Any) -> StepRecord:
    return StepRecord(
        name="ingest",
        mode="apply",
        command=["python", "ingest.py"],
        status=status,  # type: ignore[arg-type]
        exit_code=exit_code,
        error=error,
        **kw,
    )


def _guide(report: dict[str, Any], lang: str = "en") -> str:
    (guide,) = [
        line
        for line in build_checklist(report, lang)
        if line.startswith(("retry-guide:", "rollback-guide:"))
    ]
    return guide


@pytest.mark.parametrize(
    ("step", "preflight", "kind", "en", "ko"),
    [
        pytest.param(
            _ingest("failed", 1),
            {"INTERNAL_JOB_TOKEN": False},
            "missing_env",
            "required environment variable(s) not set: INTERNAL_JOB_TOKEN",
            "필수 환경 변수가 설정되지 않음: INTERNAL_JOB_TOKEN",
            id="missing-env",
        ),
        pytest.param(
            _ingest("failed", 127, "command not found: ingest.py"),
            None,
            "not_found",
            "the command or script was not found",
            "명령 또는 스크립트를 찾을 수 없음",
            id="not-found",
        ),
        pytest.param(
            _ingest("failed", 2, "python: can't open file '/x/ingest.py': [Errno 2] No such file"),
            None,
            "not_found",
            "the command or script was not found",
            "명령 또는 스크립트를 찾을 수 없음",
            id="script-missing",
        ),
        pytest.param(
            _ingest("timeout", None),
            None,
            "timeout",
            "did not finish within",
            "시간 안에",
            id="timeout",
        ),
        pytest.param(
            _ingest("interrupted", None),
            None,
            "interrupted",
            "the run was interrupted",
            "실행이 중단됨",
            id="interrupted",
        ),
        pytest.param(
            _ingest("failed", -9),
            None,
            "signal",
            "killed by signal SIGKILL",
            "시그널 SIGKILL",
            id="signal",
        ),
        pytest.param(
            _ingest("failed", 3),
            None,
            "exit_code",
            "exited with code 3",
            "종료 코드 3",
            id="exit-code",
        ),
    ],
)
def test_each_cause_gets_its_own_guide_in_english_and_korean(
    step: StepRecord, preflight: dict[str, bool] | None, kind: str, en: str, ko: str
) -> None:
    report = _report([step], preflight=preflight)

    assert step_cause(report["steps"][0], report).kind == kind
    assert en in _guide(report, "en")
    assert ko in _guide(report, "ko")
    assert "raise the backoff" not in _guide(report, "en")  # generic advice: unknown causes only


def test_an_unknown_cause_keeps_the_generic_advice() -> None:
    report = _report([_ingest("failed", None)])

    assert step_cause(report["steps"][0], report).kind == "unknown"
    assert "raise the backoff and timeout" in _guide(report)


def test_a_guide_names_only_artifacts_that_exist(tmp_path: Path) -> None:
    log = tmp_path / "attempt-1.log"
    log.write_text("boom\n", encoding="utf-8")
    missing = tmp_path / "report.json"
    report = _report([_ingest("failed", 3, output_path=str(missing), log_path=str(log))])

    guide = _guide(report)

    assert str(log) in guide
    assert str(missing) not in guide


def test_the_reapply_command_lists_every_id_left_to_do_keeps_the_output_dir_and_offers_resume() -> (
    None
):
    def reprocess(matchup_id: str, status: str) -> StepRecord:
        return StepRecord(
            name="reprocess",
            mode="apply",
            command=["python", "re.py"],
            status=status,  # type: ignore[arg-type]
            exit_code=2 if status == "failed" else None,
            matchup_id=matchup_id,
        )

    ids = ["m-ok", "m-failed", "m-timeout", "m-interrupted", "m-skipped"]
    report = _report(
        [
            reprocess("m-ok", "success"),
            reprocess("m-failed", "failed"),
            reprocess("m-timeout", "timeout"),
            reprocess("m-interrupted", "interrupted"),
            reprocess("m-skipped", "skipped"),
        ],
        matchup_ids=ids,
    )

    guide = _guide(report)

    command = guide.split("then re-apply only them: ", 1)[1]
    argv = shlex.split(command)
    todo = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--matchup-id"]
    assert todo == ["m-failed", "m-timeout", "m-interrupted", "m-skipped"]
    assert argv[argv.index("--output-dir") + 1] == "out"
    assert "Shorter: recovery-bundle run --resume out/r1 " in guide
