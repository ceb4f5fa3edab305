"""Plain (non-terminal) progress: a long phase shows a count line every 10% or every 5 s."""

from __future__ import annotations

import io

import pytest

from recovery_plugin.render import progress as progress_module
from recovery_plugin.render.progress import Progress


def _count_lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line.startswith("[capture] ")]


def test_a_long_phase_reports_every_tenth_and_not_every_unit() -> None:
    stream = io.StringIO()
    with Progress(stream, live=False) as progress:
        progress.expect("capture", 1000)
        for _ in range(1000):
            progress.advance("capture")
    lines = _count_lines(stream)
    assert lines[0] == "[capture] 100/1000 (10%)"
    assert lines[-1] == "[capture] 900/1000 (90%)"  # the phase's own result line follows 100%
    assert len(lines) == 9
    assert "\r" not in stream.getvalue()


def test_a_short_phase_says_nothing_until_five_seconds_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    stream = io.StringIO()
    progress = Progress(stream, live=False)
    progress.expect("capture", 10)
    progress.advance("capture")
    assert _count_lines(stream) == []
    now[0] += 5.0
    progress.advance("capture")
    assert _count_lines(stream) == ["[capture] 2/10 (20%)"]
    progress.advance("capture")  # no time has passed since the last line
    assert len(_count_lines(stream)) == 1


def test_a_terminal_gets_no_count_lines() -> None:
    stream = io.StringIO()
    progress = Progress(stream, live=True)
    progress.expect("capture", 1000)
    for _ in range(500):
        progress.advance("capture")
    assert "\n" not in stream.getvalue()


def test_count_lines_say_how_many_failed_once_one_has() -> None:
    stream = io.StringIO()
    with Progress(stream, live=False) as progress:
        progress.expect("capture", 100)
        for n in range(100):
            progress.advance("capture", failed=n >= 15)
    lines = _count_lines(stream)
    assert lines[0] == "[capture] 10/100 (10%)"  # nothing failed yet: no failed count
    assert lines[1] == "[capture] 20/100 (20%), 5 failed"
    assert lines[-1] == "[capture] 90/100 (90%), 75 failed"
