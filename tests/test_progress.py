"""Live progress: redrawn in place on a terminal, plain lines anywhere else."""

from __future__ import annotations

import io

from recovery_plugin.render.progress import Progress


def test_plain_output_has_no_control_characters() -> None:
    stream = io.StringIO()
    with Progress(stream, live=False) as progress:
        progress.expect("capture", 3)
        progress.step_started("ingest")
        progress.line("[ingest] running")
        progress.advance("capture")
        progress.line("[ingest] success in 0.1s")
    assert stream.getvalue() == "[ingest] running\n[ingest] success in 0.1s\n"


def test_terminal_status_line_counts_and_clears() -> None:
    stream = io.StringIO()
    progress = Progress(stream, live=True)
    progress.step_started("reprocess A")
    progress.expect("capture", 4)
    progress.advance("capture")
    assert progress.status().startswith("reprocess A ")
    assert progress.status().endswith("capture 1/4")
    progress.line("[reprocess A] running")
    output = stream.getvalue()
    assert "[reprocess A] running\n" in output
    assert output.endswith("capture 1/4")  # the status line is redrawn under the event line
    progress.step_finished("reprocess A")
    with progress:
        pass
    assert stream.getvalue().endswith("\r")  # cleared on exit: no stale status left on screen
    assert progress.status() == "capture 1/4"
