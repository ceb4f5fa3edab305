"""One mutating step under its retry policy; every attempt is recorded with its own log."""

from __future__ import annotations

import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import tenacity

from recovery_plugin.config import StepSpec
from recovery_plugin.redact import MASK, Redactor
from recovery_plugin.report.model import StepRecord
from recovery_plugin.run import steps
from recovery_plugin.run.steps import backoff_wait, run_step

SECRET = "tok-9f8e7d6c5b4a"


def _spec(**kwargs: object) -> StepSpec:
    # backoff stays at its default (1 s) and max_backoff caps every wait at 10 ms.
    options: dict[str, object] = {"timeout": 2.0, "max_backoff": 0.01, "kill_grace": 0.3}
    options.update(kwargs)
    return StepSpec(name="ingest", command=("{python}",), **options)  # type: ignore[arg-type]


def _run(
    tmp_path: Path,
    code: str,
    spec: StepSpec,
    *,
    cancel: threading.Event | None = None,
    redactor: Redactor | None = None,
    changes: list[str] | None = None,
) -> StepRecord:
    argv = [sys.executable, "-c", textwrap.dedent(code), str(tmp_path / "counter")]
    record = StepRecord(name="ingest", mode="apply", command=argv)

    def on_change(rec: StepRecord) -> None:
        if changes is not None:
            changes.append(f"{rec.status}:{len(rec.attempts)}")

    return run_step(
        record,
        spec,
        argv,
        step_dir=tmp_path / "ingest",
        env={},
        cwd=None,
        redactor=redactor or Redactor(),
        cancel=cancel or threading.Event(),
        on_change=on_change,
    )


# Exits with the codes listed in argv order, one per run, counting runs in a file.
SEQUENCE = """\
    import pathlib, sys
    counter = pathlib.Path(sys.argv[1])
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    codes = {codes}
    print(f"attempt {{n + 1}}")
    sys.exit(codes[min(n, len(codes) - 1)])
"""


def test_a_successful_step_has_one_attempt(tmp_path: Path) -> None:
    changes: list[str] = []

    record = _run(tmp_path, SEQUENCE.format(codes=[0]), _spec(retries=2), changes=changes)

    assert record.status == "success"
    assert record.exit_code == 0
    assert record.error is None
    assert not record.failed
    assert [a.attempt for a in record.attempts] == [1]
    assert record.attempts[0].status == "success"
    assert record.log_path == str(tmp_path / "ingest" / "attempt-1.log")
    assert record.tail == ["attempt 1"]
    assert record.started_at
    assert record.finished_at
    assert record.duration_s is not None
    assert changes == ["running:0", "running:1", "success:1"]


def test_failing_twice_then_succeeding_takes_three_attempts(tmp_path: Path) -> None:
    record = _run(tmp_path, SEQUENCE.format(codes=[1, 1, 0]), _spec(retries=2))

    assert record.status == "success"
    assert record.exit_code == 0
    assert record.error is None
    assert [(a.attempt, a.status, a.exit_code) for a in record.attempts] == [
        (1, "failed", 1),
        (2, "failed", 1),
        (3, "success", 0),
    ]
    for attempt in record.attempts:
        log = Path(attempt.log_path)
        assert log.name == f"attempt-{attempt.attempt}.log"
        assert f"attempt {attempt.attempt}\n" in log.read_text(encoding="utf-8")
    assert record.log_path == str(tmp_path / "ingest" / "attempt-3.log")
    assert record.tail == ["attempt 3"]


def test_exhausted_retries_leave_the_step_failed_with_the_last_exit_code(tmp_path: Path) -> None:
    record = _run(tmp_path, SEQUENCE.format(codes=[1, 1, 4]), _spec(retries=2))

    assert record.status == "failed"
    assert record.failed
    assert record.exit_code == 4
    assert len(record.attempts) == 3
    assert record.error == "exited with code 4 (after 3 attempts)"
    assert (tmp_path / "counter").read_text() == "3"


def test_no_retries_means_one_attempt(tmp_path: Path) -> None:
    record = _run(tmp_path, SEQUENCE.format(codes=[2, 0]), _spec(retries=0))

    assert record.status == "failed"
    assert record.error == "exited with code 2 (after 1 attempt)"
    assert len(record.attempts) == 1


def test_an_exit_code_outside_retry_on_exit_codes_is_not_retried(tmp_path: Path) -> None:
    record = _run(
        tmp_path, SEQUENCE.format(codes=[1, 0]), _spec(retries=2, retry_on_exit_codes=(3,))
    )

    assert record.status == "failed"
    assert record.exit_code == 1
    assert len(record.attempts) == 1
    assert (tmp_path / "counter").read_text() == "1"


def test_an_exit_code_listed_in_retry_on_exit_codes_is_retried(tmp_path: Path) -> None:
    record = _run(
        tmp_path, SEQUENCE.format(codes=[3, 3, 0]), _spec(retries=2, retry_on_exit_codes=(3,))
    )

    assert record.status == "success"
    assert [a.exit_code for a in record.attempts] == [3, 3, 0]


def _waits(spec: StepSpec, attempt: int, draws: int = 1) -> list[float]:
    """What ``backoff_wait(spec)`` answers after failed attempt number ``attempt``."""
    state = tenacity.RetryCallState(tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    wait = backoff_wait(spec)
    return [wait(state) for _ in range(draws)]


def test_the_wait_doubles_after_each_failed_attempt_plus_up_to_half_a_backoff_of_jitter() -> None:
    spec = _spec(backoff=0.4, max_backoff=60.0)

    for attempt, base in [(1, 0.4), (2, 0.8), (3, 1.6), (4, 3.2)]:
        waits = _waits(spec, attempt, draws=50)
        assert all(base <= w <= base + 0.2 for w in waits), (attempt, waits)
        assert len(set(waits)) > 1, "no jitter"


def test_max_backoff_caps_every_wait() -> None:
    spec = _spec(backoff=1.0, max_backoff=3.0)

    assert _waits(spec, 5, draws=20) == [3.0] * 20
    assert max(_waits(spec, 2, draws=50)) <= 3.0


def test_run_step_waits_the_backoff_between_attempts_and_not_after_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(steps, "interruptible_sleep", lambda cancel, seconds: slept.append(seconds))

    record = _run(
        tmp_path, SEQUENCE.format(codes=[1, 1, 1]), _spec(retries=2, backoff=2.0, max_backoff=5.0)
    )

    assert len(record.attempts) == 3
    assert len(slept) == 2
    assert 2.0 <= slept[0] <= 3.0
    assert 4.0 <= slept[1] <= 5.0


def test_a_short_backoff_retries_quickly_under_warnings_as_errors(tmp_path: Path) -> None:
    # The project runs with filterwarnings = error: a run_step with a sub-second backoff must
    # not trip a deprecation warning of the retry library.
    spec = StepSpec(
        name="ingest", command=("{python}",), timeout=2.0, retries=2, backoff=0.01, kill_grace=0.3
    )

    record = _run(tmp_path, SEQUENCE.format(codes=[1, 1, 0]), spec)

    assert record.status == "success"
    assert [a.status for a in record.attempts] == ["failed", "failed", "success"]


def test_a_step_past_its_timeout_is_recorded_as_timeout(tmp_path: Path) -> None:
    start = time.monotonic()
    record = _run(
        tmp_path, "import time; print('working', flush=True); time.sleep(30)", _spec(timeout=0.5)
    )

    assert time.monotonic() - start < 3.0
    assert record.status == "timeout"
    assert record.failed
    assert [a.status for a in record.attempts] == ["timeout"]
    assert record.error == "timed out after 0.5s; process group stopped (after 1 attempt)"
    assert record.tail[-1] == "[recovery-bundle] timed out after 0.5s; process group stopped"


def test_a_timeout_is_retried_even_when_only_some_exit_codes_are(tmp_path: Path) -> None:
    code = """\
        import pathlib, sys, time
        counter = pathlib.Path(sys.argv[1])
        n = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(n + 1))
        if n == 0:
            time.sleep(30)
    """

    record = _run(tmp_path, code, _spec(timeout=0.5, retries=1, retry_on_exit_codes=(3,)))

    assert [a.status for a in record.attempts] == ["timeout", "success"]
    assert record.status == "success"


def test_a_cancelled_step_is_interrupted_and_not_retried(tmp_path: Path) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    try:
        start = time.monotonic()
        record = _run(
            tmp_path, "import time; time.sleep(30)", _spec(timeout=10.0, retries=3), cancel=cancel
        )
        elapsed = time.monotonic() - start
    finally:
        timer.cancel()
        timer.join()

    assert record.status == "interrupted"
    assert len(record.attempts) == 1
    assert record.error == "interrupted; process group stopped (after 1 attempt)"
    assert elapsed < 3.0


def test_a_command_that_is_not_found_fails_with_exit_127(tmp_path: Path) -> None:
    argv = ["recovery-no-such-command-xyz"]
    record = StepRecord(name="ingest", mode="apply", command=argv)

    run_step(
        record,
        _spec(retries=0),
        argv,
        step_dir=tmp_path / "ingest",
        env={},
        cwd=None,
        redactor=Redactor(),
        cancel=threading.Event(),
    )

    assert record.status == "failed"
    assert record.exit_code == 127
    assert record.error == "command not found: recovery-no-such-command-xyz (after 1 attempt)"


def test_secrets_are_masked_in_every_attempt_log_and_the_tail(tmp_path: Path) -> None:
    code = SEQUENCE.format(codes=[1, 0]).replace(
        'print(f"attempt {n + 1}")', f'print(f"attempt {{n + 1}} token={SECRET}")'
    )

    record = _run(tmp_path, code, _spec(retries=1), redactor=Redactor([SECRET]))

    assert record.status == "success"
    for attempt in record.attempts:
        log = Path(attempt.log_path).read_text(encoding="utf-8")
        assert SECRET not in log
        assert f"token={MASK}" in log
    assert record.tail == [f"attempt 2 token={MASK}"]
    assert SECRET not in str(record.to_dict()["tail"])
