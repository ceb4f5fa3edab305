"""The launcher pauses the garbage collector for start-up and always starts it again.

Each case runs in its own interpreter: freezing the test process's objects would change every
later test's garbage collection.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_PROBE = textwrap.dedent(
    """
    import gc, json, sys
    from recovery_plugin.cli import main

    seen = {}
    if "--caller-disabled" in sys.argv:
        sys.argv.remove("--caller-disabled")
        gc.disable()
    if "--watch-run" in sys.argv:
        sys.argv.remove("--watch-run")
        import recovery_plugin.run.pipeline as pipeline
        real_execute = pipeline.execute

        def execute(*args, **kwargs):
            seen["collector during the run"] = gc.isenabled()
            seen["frozen before the run"] = gc.get_freeze_count()
            return real_execute(*args, **kwargs)

        pipeline.execute = execute
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        seen["exit"] = exc.code
    seen["collector after"] = gc.isenabled()
    seen["frozen after"] = gc.get_freeze_count()
    print(json.dumps(seen))
    """
)


def _probe(tmp_path: Path, *argv: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        timeout=60,
    )
    seen: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return seen


def test_a_run_does_its_work_with_the_collector_running(tmp_path: Path) -> None:
    dry_run = ["run", "--mode", "dry-run", "--matchup-id", "m-1", "--output-dir", str(tmp_path)]
    seen = _probe(tmp_path, "--watch-run", *dry_run)
    assert seen["exit"] == 0
    assert seen["collector during the run"] is True
    assert isinstance(seen["frozen before the run"], int) and seen["frozen before the run"] > 0
    assert seen["collector after"] is True


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--no-such-flag"],  # click stops it while parsing
        ["run", "--mode", "dry-run", "--matchup-file", "missing.json"],  # a user error
        ["--help"],
        ["history", "--help"],
        ["no-such-command"],
    ],
    ids=["bad-flag", "missing-ids-file", "help", "command-help", "unknown-command"],
)
def test_the_collector_runs_again_however_main_ends(tmp_path: Path, argv: list[str]) -> None:
    seen = _probe(tmp_path, *argv)
    assert seen["collector after"] is True


def test_a_caller_that_stopped_the_collector_keeps_it_stopped(tmp_path: Path) -> None:
    dry_run = ["run", "--mode", "dry-run", "--matchup-id", "m-1", "--output-dir", str(tmp_path)]
    seen = _probe(tmp_path, "--caller-disabled", "--watch-run", *dry_run)
    assert seen["exit"] == 0
    assert seen["collector during the run"] is False
    assert seen["collector after"] is False
    assert seen["frozen after"] == 0  # nothing set aside that the caller did not ask for


def test_start_up_is_set_aside_once_a_process() -> None:
    code = textwrap.dedent(
        """
        import gc
        from recovery_plugin.cli import startup
        startup.pause(); assert not gc.isenabled()
        startup.resume(); assert gc.isenabled()
        first = gc.get_freeze_count()
        garbage = [[] for _ in range(10_000)]
        startup.pause(); startup.resume()
        assert gc.isenabled() and gc.get_freeze_count() == first, (first, gc.get_freeze_count())
        startup.resume()  # without a pause: nothing
        assert gc.isenabled()
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.stdout.strip() == "ok", done.stderr
