"""Running one command: argv list, own process group, timeout/cancel stop the group, redacted log."""

from __future__ import annotations

import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from conftest import is_gone
from recovery_plugin.redact import MASK, Redactor
from recovery_plugin.run import process
from recovery_plugin.run.process import TAIL_LINES, run_process

SECRET = "s3cr3t-database-password"


def _run(
    code: str,
    tmp_path: Path,
    *,
    timeout: float = 2.0,
    redactor: Redactor | None = None,
    cancel: threading.Event | None = None,
    env: dict[str, str] | None = None,
) -> process.ProcessResult:
    return run_process(
        [sys.executable, "-c", textwrap.dedent(code)],
        log_path=tmp_path / "logs" / "step.log",
        timeout=timeout,
        redactor=redactor or Redactor(),
        kill_grace=0.3,
        cancel=cancel,
        env=env,
    )


def _wait_gone(pid: int, seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if is_gone(pid):
            return True
        time.sleep(0.02)
    return is_gone(pid)


# A child that starts a grandchild ignoring SIGTERM, records both pids, then hangs.
FAMILY = """\
    import os, signal, subprocess, sys, time
    pids = sys.argv[1]
    grandchild = subprocess.Popen([sys.executable, "-c", (
        "import os, signal, sys, time\\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
        "open(sys.argv[1], 'w').write(str(os.getpid()))\\n"
        "time.sleep(60)\\n"
    ), pids + ".grandchild"])
    deadline = time.monotonic() + 5
    while not os.path.exists(pids + ".grandchild") and time.monotonic() < deadline:
        time.sleep(0.01)
    open(pids + ".child", "w").write(str(os.getpid()))
    print("family started", flush=True)
    time.sleep(60)
"""


def _start_family(tmp_path: Path, **kwargs: object) -> tuple[process.ProcessResult, int, int]:
    pids = tmp_path / "pids"
    result = run_process(
        [sys.executable, "-c", textwrap.dedent(FAMILY), str(pids)],
        log_path=tmp_path / "step.log",
        redactor=Redactor(),
        kill_grace=0.3,
        **kwargs,  # type: ignore[arg-type]
    )
    child = int(Path(f"{pids}.child").read_text())
    grandchild = int(Path(f"{pids}.grandchild").read_text())
    return result, child, grandchild


def test_a_successful_command_is_logged_with_its_argv(tmp_path: Path) -> None:
    result = _run("print('hello'); print('서울|시장')", tmp_path)

    assert result.ok
    assert result.exit_code == 0
    assert result.timed_out is False
    assert result.cancelled is False
    assert result.error is None
    assert result.tail == ["hello", "서울|시장"]
    log = result.log_path.read_text(encoding="utf-8")
    assert log.startswith(f"$ {sys.executable} -c ")
    assert log.endswith("hello\n서울|시장\n")
    assert result.started_at
    assert result.duration_s >= 0


def test_stderr_is_interleaved_into_the_same_log(tmp_path: Path) -> None:
    result = _run(
        "import sys; print('out', flush=True); print('err', file=sys.stderr, flush=True)",
        tmp_path,
    )

    assert result.tail == ["out", "err"]


def test_a_failing_command_reports_its_exit_code(tmp_path: Path) -> None:
    result = _run("import sys; print('bad input'); sys.exit(3)", tmp_path)

    assert result.exit_code == 3
    assert not result.ok
    assert result.error is None
    assert result.tail == ["bad input"]


def test_the_environment_is_exactly_the_one_given(tmp_path: Path) -> None:
    result = _run(
        "import os; print(os.environ.get('APP_ENV'), os.environ.get('HOME', 'no-home'))",
        tmp_path,
        env={"APP_ENV": "recovery"},
    )

    assert result.tail == ["recovery no-home"]


def test_secrets_printed_by_the_command_or_in_its_argv_are_masked(tmp_path: Path) -> None:
    redactor = Redactor([SECRET])
    result = run_process(
        [
            sys.executable,
            "-c",
            "import sys; print('db=' + sys.argv[1]); print('Authorization: Bearer abc.def')",
            SECRET,
        ],
        log_path=tmp_path / "step.log",
        timeout=2.0,
        redactor=redactor,
        kill_grace=0.3,
    )

    log = result.log_path.read_text(encoding="utf-8")
    assert result.ok
    assert SECRET not in log
    assert "abc.def" not in log
    assert f"db={MASK}" in log
    assert result.tail == [f"db={MASK}", f"Authorization: {MASK}"]


def test_a_secret_in_a_very_long_line_is_masked(tmp_path: Path) -> None:
    # The secret straddles the 64 KiB boundary at which the log pump splits long lines.
    code = f"import sys; sys.stdout.write('x ' * 32764 + {SECRET!r} + '\\n')"

    result = _run(code, tmp_path, redactor=Redactor([SECRET]))

    leaked = SECRET in result.log_path.read_text(encoding="utf-8")
    assert result.ok
    assert not leaked, "the secret is in the step log"


def test_a_command_not_found_exits_127_with_a_clear_error(tmp_path: Path) -> None:
    result = run_process(
        ["recovery-no-such-command-xyz", "--flag"],
        log_path=tmp_path / "step.log",
        timeout=2.0,
        redactor=Redactor(),
    )

    assert result.exit_code == 127
    assert not result.ok
    assert result.error == "command not found: recovery-no-such-command-xyz"
    assert result.tail == [result.error]
    assert result.error in result.log_path.read_text(encoding="utf-8")


def test_a_missing_working_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"

    result = run_process(
        [sys.executable, "-c", "pass"],
        log_path=tmp_path / "step.log",
        timeout=2.0,
        redactor=Redactor(),
        cwd=missing,
    )

    assert result.exit_code == 127
    assert result.error == f"working directory not found: {missing}"


def test_a_file_that_is_not_executable_exits_126(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n", encoding="utf-8")
    script.chmod(0o644)

    result = run_process(
        [str(script)], log_path=tmp_path / "step.log", timeout=2.0, redactor=Redactor()
    )

    assert result.exit_code == 126
    assert result.error == f"command not executable: {script}"


def test_the_command_runs_in_the_given_working_directory(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()

    result = run_process(
        [sys.executable, "-c", "import os; print(os.getcwd())"],
        log_path=tmp_path / "step.log",
        timeout=2.0,
        redactor=Redactor(),
        cwd=work,
    )

    assert result.tail == [str(work)]


def test_the_command_leads_its_own_process_group(tmp_path: Path) -> None:
    result = _run(
        "import os; print(os.getpgid(0) == os.getpid(), os.getsid(0) == os.getpid())", tmp_path
    )

    assert result.tail == ["True True"]


def test_a_timeout_stops_the_whole_group_even_a_grandchild_ignoring_sigterm(
    tmp_path: Path,
) -> None:
    start = time.monotonic()
    result, child, grandchild = _start_family(tmp_path, timeout=1.0)
    elapsed = time.monotonic() - start

    assert result.timed_out is True
    assert result.cancelled is False
    assert not result.ok
    assert result.error == "timed out after 1s; process group stopped"
    assert result.tail[-1] == "[recovery-bundle] timed out after 1s; process group stopped"
    assert "family started" in result.tail
    assert _wait_gone(child)
    assert _wait_gone(grandchild)
    assert elapsed < 4.0
    assert "timed out after 1s" in result.log_path.read_text(encoding="utf-8")


def test_a_cancel_event_stops_the_whole_group(tmp_path: Path) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.7, cancel.set)
    timer.start()
    try:
        start = time.monotonic()
        result, child, grandchild = _start_family(tmp_path, timeout=30.0, cancel=cancel)
        elapsed = time.monotonic() - start
    finally:
        timer.cancel()
        timer.join()

    assert result.cancelled is True
    assert result.timed_out is False
    assert result.error == "interrupted; process group stopped"
    assert _wait_gone(child)
    assert _wait_gone(grandchild)
    assert elapsed < 4.0


def test_a_background_grandchild_holding_the_output_open_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "_DRAIN_SECONDS", 0.3)
    pid_file = tmp_path / "bg.pid"
    code = f"""\
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c",
            "import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"])
        print("leader done", flush=True)
    """
    start = time.monotonic()
    result = _run(code, tmp_path, timeout=10.0)

    assert result.exit_code == 0
    assert time.monotonic() - start < 5.0
    (background,) = result.stopped  # found even if stopped before it wrote its pid
    assert result.tail == [
        "leader done",
        f"[recovery-bundle] stopped processes left behind by the step: {background}",
    ]
    assert not pid_file.exists() or int(pid_file.read_text()) == background
    assert _wait_gone(background)


def test_large_output_is_streamed_to_the_log_and_only_a_tail_is_kept(tmp_path: Path) -> None:
    code = """\
        import sys
        line = "y" * 99 + "\\n"
        w = sys.stdout.write
        for i in range(50_000):
            w(line)
        print("last line")
    """

    result = _run(code, tmp_path, timeout=10.0)

    assert result.ok
    assert result.log_path.stat().st_size > 5_000_000
    assert len(result.tail) <= TAIL_LINES
    assert TAIL_LINES == 20
    assert result.tail[-1] == "last line"
    assert result.tail[0] == "y" * 99


def test_the_log_directory_is_created(tmp_path: Path) -> None:
    result = run_process(
        [sys.executable, "-c", "print(1)"],
        log_path=tmp_path / "a" / "b" / "attempt-1.log",
        timeout=2.0,
        redactor=Redactor(),
    )

    assert result.log_path.is_file()
