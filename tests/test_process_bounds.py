"""What a step can make grow is bounded: its log (tail kept, with a note) and the report's tail."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from recovery_plugin.config import StepSpec
from recovery_plugin.redact import Redactor
from recovery_plugin.report.model import StepRecord
from recovery_plugin.run.process import TAIL_LINE_CHARS, TAIL_LINES
from recovery_plugin.run.steps import run_step

CAP = 64 * 1024


def _run(tmp_path: Path, code: str, **spec: object) -> StepRecord:
    argv = [sys.executable, "-c", code]
    record = StepRecord(name="ingest", mode="apply", command=argv)
    step = StepSpec(name="ingest", command=tuple(argv), timeout=60.0, kill_grace=0.3, **spec)  # type: ignore[arg-type]
    return run_step(
        record, step, argv, step_dir=tmp_path, env=dict(os.environ), cwd=None,
        redactor=Redactor(), cancel=threading.Event(),
    )  # fmt: skip


def test_a_log_past_its_cap_keeps_the_tail_and_says_it_was_truncated(tmp_path: Path) -> None:
    code = "for i in range(20000): print(f'line {i:05d} ' + 'x' * 40)\nprint('the last line')"
    record = _run(tmp_path, code, max_log_bytes=CAP)

    assert record.status == "success"
    log = Path(str(record.log_path))
    text = log.read_text(encoding="utf-8")
    assert log.stat().st_size <= CAP + 4096
    assert text.startswith("$ ")  # the command line stays on top
    assert f"log truncated at {CAP} bytes" in text
    assert text.rstrip().endswith("the last line")
    assert "line 00000 " not in text
    assert record.log_truncated_at == CAP
    assert record.to_dict()["log_truncated_at"] == CAP


def test_a_log_under_its_cap_is_whole(tmp_path: Path) -> None:
    record = _run(tmp_path, "print('short')", max_log_bytes=CAP)

    assert record.log_truncated_at is None
    assert "truncated" not in Path(str(record.log_path)).read_text(encoding="utf-8")


def test_the_default_cap_is_documented_and_sensible() -> None:
    spec = StepSpec(name="ingest", command=("true",))
    assert 1024 * 1024 <= spec.max_log_bytes <= 1024 * 1024 * 1024


def test_the_reports_tail_is_capped_in_lines_and_characters(tmp_path: Path) -> None:
    code = "print('y' * 200000)\nfor i in range(100): print(i)\nprint('z' * 200000)"
    record = _run(tmp_path, code)

    assert len(record.tail) == TAIL_LINES
    assert all(len(line) <= TAIL_LINE_CHARS + 40 for line in record.tail)
    last = [line for line in record.tail if line.strip()][-1]
    assert last.startswith("z" * TAIL_LINE_CHARS)
    assert "more characters" in last
