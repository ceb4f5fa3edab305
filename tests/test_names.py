"""The run directory's names: where each file of a run is, as scripts and docs name it."""

from __future__ import annotations

from pathlib import Path

from recovery_plugin.ids import step_names
from recovery_plugin.names import (
    CAPTURE_NAME,
    PYTEST_LOG_NAME,
    REPORT_NAME,
    STEP_REPORT_NAMES,
    STEPS_DIR,
    VERIFICATION_DIR,
    attempt_log_name,
    report_file,
    step_dir,
)

DOCS = Path(__file__).parent.parent / "docs"


def test_a_step_without_a_matchup_id_has_its_own_directory(tmp_path: Path) -> None:
    assert step_dir(tmp_path, "ingest") == tmp_path / "steps" / "ingest"


def test_a_step_per_matchup_id_gets_a_safe_distinct_directory(tmp_path: Path) -> None:
    names = step_names(["2026-서울시장|여론조사/A", "2026-서울시장|여론조사_A", "../.."])
    slash, underscore, escape = (step_dir(tmp_path, "reprocess", name) for name in names)

    assert slash.parent == underscore.parent == escape.parent == tmp_path / "steps"
    assert slash.name.startswith("reprocess-1-2026-")
    assert slash != underscore
    assert ".." not in escape.name


def test_report_file_accepts_a_run_directory_or_the_report_itself(tmp_path: Path) -> None:
    report = tmp_path / REPORT_NAME
    report.write_text("{}", encoding="utf-8")
    elsewhere = tmp_path / "copy.json"

    assert report_file(tmp_path) == report
    assert report_file(report) == report
    assert report_file(elsewhere) == elsewhere


def test_attempt_logs_are_numbered_from_one() -> None:
    assert [attempt_log_name(n) for n in (1, 2, 10)] == [
        "attempt-1.log",
        "attempt-2.log",
        "attempt-10.log",
    ]


def test_the_run_files_docs_runbook_lists_are_named_as_the_code_names_them() -> None:
    runbook = (DOCS / "runbook.md").read_text(encoding="utf-8")

    for path in (
        REPORT_NAME,
        CAPTURE_NAME,
        f"{STEPS_DIR}/ingest/{STEP_REPORT_NAMES['ingest']}",
        f"{STEPS_DIR}/reprocess-<id>/{STEP_REPORT_NAMES['reprocess']}",
        f"{STEPS_DIR}/*/{attempt_log_name(1).replace('1', 'N')}",
        f"{VERIFICATION_DIR}/{PYTEST_LOG_NAME}",
    ):
        assert f"| `{path}` |" in runbook, path
