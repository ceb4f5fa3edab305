"""Reliability of the harness itself, through the real CLI: signals, SIGKILL, the lock, secrets, hostile input.

The harness runs as ``python -m recovery_plugin`` (exactly ``recovery-bundle``) against the simulated
service. Tests that must signal it mid-run start it with ``subprocess.Popen`` and wait for the
moment by polling files it (or the simulated commands) write, never by sleeping a fixed time.
docs/reliability.md maps each behaviour to the test here that proves it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import pytest

from conftest import KOREAN_ID, assert_processes_gone, is_gone
from recovery_plugin import BundleResult
from recovery_plugin.report.evidence import BEFORE_NAME
from recovery_plugin.report.writer import REPORT_NAME
from recovery_plugin.run.lock import LOCK_NAME
from recovery_plugin.sim.data import MATCHUP_IDS
from recovery_plugin.sim.faults import hang_pid_path
from recovery_plugin.sim.harness import SimulatedService

SimFactory = Callable[..., SimulatedService]
Runner = Callable[..., BundleResult]
ReportCheck = Callable[[dict[str, Any]], None]

FAST_STEP = {"timeout": 30, "kill_grace": 0.3, "backoff": 0.01, "max_backoff": 0.05}
FAST_CAPTURE = {"readiness_deadline": 5.0, "readiness_interval": 0.05, "timeout": 5.0}
WAIT_S = 15.0


def _wait_for(what: str, predicate: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _hang_pids(sim: SimulatedService, command: str) -> list[int]:
    data = json.loads(hang_pid_path(sim.faults_path, command).read_text(encoding="utf-8"))
    return [int(data["pid"]), int(data["child_pid"])]


def _reports(output_dir: Path) -> list[Path]:
    return sorted(output_dir.glob(f"*/{REPORT_NAME}"))


def _read_report(output_dir: Path) -> dict[str, Any]:
    (path,) = _reports(output_dir)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


class Harness:
    """``recovery-bundle`` started in the background, output to a file; always stopped at exit."""

    def __init__(self, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.out_path = tmp_path / f"harness-{time.monotonic_ns()}.out"
        self._out = self.out_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "recovery_plugin", *args],
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env={**os.environ, **(env or {})},
        )

    @property
    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout: float = WAIT_S) -> int:
        return self.proc.wait(timeout)

    def __enter__(self) -> Harness:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        killed = self.proc.poll() is None
        if killed:
            self.proc.kill()
        self.proc.wait(WAIT_S)
        self._out.close()
        if killed and "--output-dir" in self.args:
            # A test failed mid-run: the steps run in their own sessions and outlive a SIGKILL.
            _kill_orphans(self.args[self.args.index("--output-dir") + 1])


def _apply_args(sim: SimulatedService, output_dir: Path, *ids: str) -> list[str]:
    args = ["run", "--mode", "apply", "--config", str(sim.config_path)]
    args += ["--output-dir", str(output_dir)]
    for matchup_id in ids:
        args += ["--matchup-id", matchup_id]
    return args


# --- interruption -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "exit_code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_during_ingest_stops_its_group_and_reports_interrupted(
    signum: int,
    exit_code: int,
    recovery_sim: SimFactory,
    tmp_path: Path,
    assert_valid_report: ReportCheck,
) -> None:
    sim = recovery_sim(faults={"ingest": {"hang": True}}, steps={"ingest": FAST_STEP})
    out = tmp_path / "runs"
    with Harness(tmp_path, *_apply_args(sim, out, KOREAN_ID)) as harness:
        _wait_for("the ingest to hang", hang_pid_path(sim.faults_path, "ingest").is_file)
        pids = _hang_pids(sim, "ingest")
        harness.proc.send_signal(signum)
        assert harness.wait() == exit_code, harness.output

    report = _read_report(out)
    assert_valid_report(report)
    assert report["status"] == "interrupted"
    assert [(s["name"], s["status"]) for s in report["steps"]] == [
        ("ingest", "interrupted"),
        ("reprocess", "skipped"),
        ("capture", "skipped"),
    ]
    ingest = report["steps"][0]
    assert ingest["error"].startswith("interrupted; process group stopped")
    assert len(ingest["attempts"]) == 1  # an interrupted step is never retried
    assert report["steps"][1]["error"] == "not run: the run was interrupted"
    assert report["finished_at"] is not None
    assert "apply: interrupted" in harness.output
    assert_processes_gone(pids)
    assert not (out / LOCK_NAME).exists(), "the lock outlived the interrupted run"


def test_sigterm_during_reprocess_keeps_every_step_so_far(
    recovery_sim: SimFactory, tmp_path: Path, assert_valid_report: ReportCheck
) -> None:
    sim = recovery_sim(
        faults={"reprocess": {"hang_ids": [KOREAN_ID]}},
        steps={"ingest": FAST_STEP, "reprocess": FAST_STEP},
    )
    out = tmp_path / "runs"
    other = MATCHUP_IDS[1]  # reprocessed in parallel (--jobs 4), and finished before the signal
    with Harness(tmp_path, *_apply_args(sim, out, KOREAN_ID, other)) as harness:
        _wait_for("the reprocess to hang", hang_pid_path(sim.faults_path, "reprocess").is_file)
        _wait_for("the other reprocess to succeed", lambda: _step_status(out, other) == "success")
        harness.proc.send_signal(signal.SIGTERM)
        assert harness.wait() == 143, harness.output

    report = _read_report(out)
    assert_valid_report(report)
    assert report["status"] == "interrupted"
    assert [(s["name"], s.get("matchup_id"), s["status"]) for s in report["steps"]] == [
        ("ingest", None, "success"),
        ("reprocess", KOREAN_ID, "interrupted"),
        ("reprocess", other, "success"),
        ("capture", None, "skipped"),
    ]
    assert report["steps"][0]["attempts"][0]["exit_code"] == 0
    (guide,) = [g for g in report["ops_checklist"] if g.startswith("rollback-guide: reprocess")]
    assert KOREAN_ID in guide
    assert_processes_gone(_hang_pids(sim, "reprocess"))


def _step_status(output_dir: Path, matchup_id: str) -> str | None:
    """The status of ``matchup_id``'s reprocess in the report as written so far (atomically)."""
    reports = _reports(output_dir)
    if not reports:
        return None
    report = json.loads(reports[0].read_text(encoding="utf-8"))
    statuses = [s["status"] for s in report["steps"] if s.get("matchup_id") == matchup_id]
    return statuses[0] if statuses else None


def test_sigint_during_verification_writes_an_interrupted_report(
    recovery_sim: SimFactory, tmp_path: Path, assert_valid_report: ReportCheck
) -> None:
    sim = recovery_sim(
        faults={"endpoints": {"summary": {"delay": 2.0}}},
        capture={**FAST_CAPTURE, "timeout": 10.0},
    )
    sim.seed()
    out = tmp_path / "runs"
    args = ["verify", "--config", str(sim.config_path), "--output-dir", str(out)]
    with Harness(tmp_path, *args, "--matchup-id", KOREAN_ID) as harness:
        _wait_for(
            "the verification session", lambda: bool(list(out.glob("*/verification/pytest.log")))
        )
        # The readiness probe and the health check are answered (logged) at once; the summary
        # request, sent with them, is then held by its 2 s delay: signal while it is in flight.
        _wait_for("the health check", lambda: _access_log(sim).count("GET /health ") >= 2)
        assert "/api/v1/dashboard/summary" not in _access_log(sim)
        started = time.monotonic()
        harness.proc.send_signal(signal.SIGINT)
        assert harness.wait() == 130, harness.output
        assert time.monotonic() - started < 5

    report = _read_report(out)
    assert_valid_report(report)
    assert report["status"] == "interrupted"
    assert report["steps"][0]["status"] == "interrupted"


def test_sigint_cancels_a_request_in_flight_instead_of_waiting_for_its_timeout(
    recovery_sim: SimFactory, tmp_path: Path, assert_valid_report: ReportCheck
) -> None:
    sim = recovery_sim(
        faults={"endpoints": {"summary": {"delay": 30.0}}},
        capture={**FAST_CAPTURE, "timeout": 60.0},
    )
    sim.seed()
    out = tmp_path / "runs"
    args = ["verify", "--config", str(sim.config_path), "--output-dir", str(out)]
    with Harness(tmp_path, *args, "--matchup-id", KOREAN_ID) as harness:
        _wait_for(
            "the verification session", lambda: bool(list(out.glob("*/verification/pytest.log")))
        )
        _wait_for("the health check", lambda: _access_log(sim).count("GET /health ") >= 2)
        time.sleep(0.3)  # the summary request is sent with the health check: now held 30 s
        started = time.monotonic()
        harness.proc.send_signal(signal.SIGINT)
        assert harness.wait() == 130, harness.output
        assert time.monotonic() - started < 10  # not the 30 s answer, nor the 60 s timeout

    report = _read_report(out)
    assert_valid_report(report)
    assert report["status"] == "interrupted"
    assert report["steps"][0]["status"] == "interrupted"


def _access_log(sim: SimulatedService) -> str:
    try:
        return sim.access_log_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


# --- nothing lost -------------------------------------------------------------------------------


def _processes_mentioning(marker: str) -> list[int]:
    """Pids whose command line contains ``marker`` (a unique temp path of this test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry.name))
    return found


def _kill_orphans(marker: str) -> None:
    """Steps of a SIGKILLed harness run on in their own sessions: stop them (ours, by pid)."""
    for pid in _processes_mentioning(marker):
        if pid != os.getpid():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # a step leads its own process group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    assert_processes_gone(_processes_mentioning(marker))


MOMENTS: dict[str, Callable[[Path], bool]] = {
    # name -> "the harness has reached this point" (given the run's output directory)
    "at start": lambda out: True,
    "run dir created": lambda out: bool(list(out.glob("*/"))),
    "first report written": lambda out: bool(list(out.glob(f"*/{REPORT_NAME}"))),
    "ingest running": lambda out: bool(list(out.glob("*/steps/ingest/attempt-1.log"))),
    "reprocess running": lambda out: bool(list(out.glob("*/steps/reprocess-*/attempt-1.log"))),
    "baseline captured": lambda out: bool(list(out.glob(f"*/{BEFORE_NAME}"))),
    "verification running": lambda out: bool(list(out.glob("*/verification/pytest.log"))),
}


def test_sigkill_at_any_moment_leaves_no_report_or_a_whole_valid_one(
    recovery_sim: SimFactory, tmp_path: Path, assert_valid_report: ReportCheck
) -> None:
    sim = recovery_sim(
        faults={"ingest": {"delay": 0.2}, "reprocess": {"delay": 0.2}},
        steps={"ingest": FAST_STEP, "reprocess": FAST_STEP},
        capture=FAST_CAPTURE,
    )
    seen: dict[str, str] = {}
    for index, (moment, reached) in enumerate(MOMENTS.items()):
        out = tmp_path / f"kill-{index}"
        copy = tmp_path / f"copy-{index}.json"
        args = [*_apply_args(sim, out, KOREAN_ID), "--report", str(copy)]
        try:
            with Harness(tmp_path, *args) as harness:
                _wait_for(
                    moment,
                    lambda out=out, reached=reached: (
                        reached(out) or harness.proc.poll() is not None
                    ),
                )
                harness.proc.send_signal(signal.SIGKILL)
                assert harness.wait() == -signal.SIGKILL
        finally:
            _kill_orphans(str(out))
        for path in [*_reports(out), copy]:
            if not path.exists():
                continue
            report = json.loads(path.read_text(encoding="utf-8"))  # whole: it parses
            assert_valid_report(report)
            seen[moment] = report["status"]
        leftovers = [
            p for p in out.rglob("*") if p.suffix == ".json" and not p.name.startswith(".")
        ]
        for path in leftovers:
            json.loads(path.read_text(encoding="utf-8"))  # every JSON artifact is whole too
    # The kills really landed mid-run: every report left behind is a whole one, still "running".
    assert len(seen) >= 5 and set(seen.values()) == {"running"}, seen


# --- one apply at a time ------------------------------------------------------------------------


def test_a_second_apply_on_a_locked_output_dir_is_refused_at_once(
    recovery_sim: SimFactory, run_bundle: Runner, tmp_path: Path
) -> None:
    sim = recovery_sim(faults={"ingest": {"hang": True}}, steps={"ingest": FAST_STEP})
    out = tmp_path / "runs"
    with Harness(tmp_path, *_apply_args(sim, out, KOREAN_ID)) as first:
        _wait_for(
            "the first apply to hold the lock and hang",
            hang_pid_path(sim.faults_path, "ingest").is_file,
        )
        holder = json.loads((out / LOCK_NAME).read_text(encoding="utf-8"))
        started = time.monotonic()
        second = run_bundle(*_apply_args(sim, out, KOREAN_ID), timeout=30)
        refused_in = time.monotonic() - started

        assert second.exit_code == 75, second.output
        assert refused_in < 5
        (line,) = second.stderr.strip().splitlines()
        assert line.startswith("recovery-bundle: error: output directory")
        assert "is locked by another apply" in line
        assert f"pid {first.proc.pid}" in line
        assert f"on {socket.gethostname()}" in line
        assert f"since {holder['started_at']}" in line
        assert holder["pid"] == first.proc.pid
        assert json.loads((out / LOCK_NAME).read_text(encoding="utf-8")) == holder  # untouched
        # The refused apply left nothing behind: the only run directory is the holder's.
        assert [p.name for p in out.iterdir() if p.is_dir()] == [holder["run_id"]]

        first.proc.send_signal(signal.SIGTERM)
        assert first.wait() == 143
    assert not (out / LOCK_NAME).exists()
    assert_processes_gone(_hang_pids(sim, "ingest"))


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(proc.stdout)
    assert is_gone(pid)
    return pid


def _write_lock(output_dir: Path, pid: int) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    holder = {
        "pid": pid,
        "host": socket.gethostname(),
        "started_at": "2026-01-01T00:00:00.000+00:00",
        "run_id": "old-run",
    }
    (output_dir / LOCK_NAME).write_text(json.dumps(holder), encoding="utf-8")


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_warning(
    recovery_sim: SimFactory, run_bundle: Runner, tmp_path: Path
) -> None:
    sim = recovery_sim(steps={"ingest": FAST_STEP}, capture=FAST_CAPTURE)
    out = tmp_path / "runs"
    dead = _dead_pid()
    _write_lock(out, dead)

    result = run_bundle(*_apply_args(sim, out, KOREAN_ID))

    assert result.exit_code == 0, result.output
    assert (
        f"warning: taking over a stale lock on {out} (held by pid {dead} on {socket.gethostname()}"
        in result.output
    )
    assert result.report["status"] == "success"
    assert not (out / LOCK_NAME).exists()


def test_dry_run_and_verify_need_no_lock(
    recovery_sim: SimFactory, run_bundle: Runner, tmp_path: Path
) -> None:
    sim = recovery_sim(capture=FAST_CAPTURE)
    sim.seed()
    out = tmp_path / "runs"
    _write_lock(out, os.getpid())  # held by a live process: this test

    applied = run_bundle(*_apply_args(sim, out, KOREAN_ID))
    assert applied.exit_code == 75  # the lock is real ...
    dry = run_bundle(
        "run",
        "--mode",
        "dry-run",
        "--config",
        str(sim.config_path),
        "--output-dir",
        str(out),
        "--matchup-id",
        KOREAN_ID,
    )
    assert dry.exit_code == 0, dry.output  # ... and a dry-run does not need it
    assert dry.report["status"] == "dry-run"
    verified = run_bundle(
        "verify",
        "--config",
        str(sim.config_path),
        "--output-dir",
        str(out),
        "--matchup-id",
        KOREAN_ID,
    )
    assert verified.exit_code == 0, verified.output
    assert json.loads((out / LOCK_NAME).read_text(encoding="utf-8"))["pid"] == os.getpid()


# --- secrets ------------------------------------------------------------------------------------

_LEAKY_STEP = """\
import os, sys
print("token:", os.environ["INTERNAL_JOB_TOKEN"])
print("partner key:", os.environ["PARTNER_API_KEY"], file=sys.stderr)
print("Authorization: Bearer " + "opaque-" + "bearer-0451")
print("GET https://ops-user:" + "url-" + "password-77@internal.example/api")
print("dsn", os.environ["DATABASE_URL"])
print("passphrase", os.environ["OPS_PASSPHRASE"])
"""


def _files_containing(root: Path, needles: Iterable[str]) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in needles:
                if needle.encode() in data:
                    hits.setdefault(needle, []).append(str(path))
    return hits


def test_secrets_never_reach_the_run_directory_or_the_console(
    recovery_sim: SimFactory, run_bundle: Runner, tmp_path: Path
) -> None:
    password = "s3cr3t-pw-9731"
    partner_key = "partner-key-5f2e9d"
    passphrase = "listed-passphrase-31"  # secret only because secret_env lists its variable
    sim = recovery_sim(
        faults={"ingest": {"print_secret": True}},
        steps={
            "ingest": FAST_STEP,
            "reprocess": {**FAST_STEP, "command": ["{python}", "-c", _LEAKY_STEP]},
        },
        capture=FAST_CAPTURE,
        secret_env=["INTERNAL_JOB_TOKEN", "DATABASE_URL", "OPS_PASSPHRASE"],
    )
    # The service itself echoes the token in a response body.
    sim.set_faults(
        {"ingest": {"print_secret": True}, "endpoints": {"summary": {"body": {"echo": sim.token}}}}
    )
    api_base = sim.base_url.replace("http://", f"http://ops:{password}@")
    out = tmp_path / "runs"
    copy = tmp_path / "copy.json"
    result = run_bundle(
        *_apply_args(sim, out, KOREAN_ID),
        *("--api-base", api_base, "--report", str(copy), "--continue-on-error"),
        env={"PARTNER_API_KEY": partner_key, "OPS_PASSPHRASE": passphrase},
    )

    assert result.run_dir is not None, result.output
    ingest_log = Path(result.step("ingest")["log_path"]).read_text(encoding="utf-8")
    assert "[ingest] debug: using token ***" in ingest_log  # the step did print it: masked
    reprocess_log = Path(result.step("reprocess", KOREAN_ID)["log_path"]).read_text(
        encoding="utf-8"
    )
    assert "Authorization: ***" in reprocess_log
    assert "https://***@internal.example/api" in reprocess_log
    assert result.capture("summary")["body"] == {"echo": "***"}
    assert result.report["api_base"].startswith("http://***@")
    secrets = [
        sim.token,
        password,
        partner_key,
        passphrase,
        "opaque-bearer-0451",
        "url-password-77",
    ]
    secrets.append(sim.database_url)
    assert _files_containing(out, secrets) == {}
    copied = copy.read_text(encoding="utf-8")
    assert [s for s in secrets if s in copied] == []
    leaked = [s for s in secrets if s in result.output]
    assert leaked == [], [
        line for line in result.output.splitlines() if any(s in line for s in secrets)
    ]


# --- hostile input ------------------------------------------------------------------------------

HOSTILE_IDS = [
    "a/b",
    "..",
    "../../../../../../../tmp/recovery-escape",
    "100%",
    "%2F..%2F",
    "with space",
    "line\nbreak",
    "ctrl\x01\x1b[31mred",
    "x" * 1200,
    "가" * 400,
    "$(touch pwned-1) `touch pwned-2`; touch pwned-3 | tee pwned-4 &",
    KOREAN_ID,
]


def _tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_hostile_ids_are_one_url_segment_and_no_file_escapes_the_run_dir(
    recovery_sim: SimFactory,
    run_bundle: Runner,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    sim = recovery_sim(steps={"reprocess": FAST_STEP}, capture=FAST_CAPTURE, jobs=8)
    sim.seed()
    base = tmp_path_factory.getbasetemp()
    before = _tree(base)
    escape = Path("/tmp/recovery-escape")
    assert not escape.exists()

    result = _run_with_ids(run_bundle, sim, tmp_path, HOSTILE_IDS)

    assert result.run_dir is not None, result.output
    assert result.report["matchup_ids"] == HOSTILE_IDS
    access = _access_log(sim)
    for matchup_id in HOSTILE_IDS:
        capture = result.capture("matchup", matchup_id)
        prefix, segment = capture["path"].rsplit("/", 1)
        assert prefix == "/api/v1/matchups"
        assert unquote(segment) == matchup_id  # the whole id, as ONE segment
        assert segment not in (".", "..") and segment.isascii() and segment.isprintable()
        assert capture["url"].endswith(capture["path"])
        assert f"GET {capture['path']} HTTP/1.1" in access  # what the service really received
        if matchup_id != KOREAN_ID:  # routed to the matchup handler, which decoded the same id
            assert capture["body"] == {"detail": "matchup not found"}, (matchup_id, capture["body"])
        step_dir = Path(result.step("reprocess", matchup_id)["log_path"]).parent
        assert step_dir.parent == result.run_dir / "steps"
        assert len(step_dir.name) <= 100 and step_dir.name.isascii() and step_dir.name.isprintable()
    # The Korean id is real data: it went all the way through.
    assert result.step("reprocess", KOREAN_ID)["status"] == "success"
    assert result.capture("matchup", KOREAN_ID)["body"]["matchup_id"] == KOREAN_ID

    new = _tree(base) - before
    outside = [
        p for p in new if not (p.is_relative_to(result.run_dir) or p.is_relative_to(sim.data_dir))
    ]
    # Outside the run directory, only the output directory that holds it may appear.
    assert outside == [result.run_dir.parent], outside
    assert not escape.exists()
    assert not list(tmp_path.rglob("pwned-*")), "a matchup id reached a shell"


def _run_with_ids(
    run_bundle: Runner, sim: SimulatedService, tmp_path: Path, ids: list[str]
) -> BundleResult:
    # Unknown ids fail their reprocess: --continue-on-error runs every id's step all the same.
    args = ["run", "--mode", "apply", "--continue-on-error", "--skip-ingest"]
    args += ["--config", str(sim.config_path)]
    args += ["--output-dir", str(tmp_path / "runs")]
    for matchup_id in ids:
        args += ["--matchup-id", matchup_id]
    return run_bundle(*args)


def _bad_inputs(tmp: Path) -> Iterator[tuple[str, list[str], str]]:
    """(case, extra argv, text the one-line error must contain: the value and its source)."""
    a_file = tmp / "a-file"
    sub = a_file / "sub"  # under a regular file: unwritable even for root
    yield "output-dir-is-a-file", ["--output-dir", str(a_file)], f"{a_file} (from --output-dir)"
    yield "output-dir-unwritable", ["--output-dir", str(sub)], f"{sub} (from --output-dir)"
    bad_port = "http://127.0.0.1:80x80"
    yield "api-base-malformed", ["--api-base", bad_port], f"{bad_port!r} from --api-base"
    yield "api-base-no-scheme", ["--api-base", "127.0.0.1:8100"], "'127.0.0.1:8100' from --api-base"
    ftp = "ftp://files.example/"
    yield "api-base-ftp-scheme", ["--api-base", ftp], f"{ftp!r} from --api-base"
    with_password = "http://ops:" + SECRET_IN_URL + "@127.0.0.1:80x80"
    yield "api-base-credentials", ["--api-base", with_password], "'http://***@127.0.0.1:80x80'"
    yield (
        "matchup-id-empty",
        ["--matchup-id", ""],
        "invalid --matchup-id '': the matchup id is empty",
    )
    yield "matchup-id-blank", ["--matchup-id", "   "], "invalid --matchup-id '   '"
    yield "jobs-zero", ["--jobs", "0"], "'0' from --jobs"
    types = tmp / "types.toml"
    yield "config-wrong-type", ["--config", str(types)], f"{types}: jobs: must be an integer"
    nested = tmp / "nested.toml"
    yield "config-wrong-nested-type", ["--config", str(nested)], f"{nested}: steps.ingest.timeout:"


SECRET_IN_URL = "pw-in-url-5521"
BAD_INPUT_CASES = [case for case, _, _ in _bad_inputs(Path("/"))]


@pytest.mark.parametrize("case", BAD_INPUT_CASES)
def test_bad_input_is_a_one_line_error_naming_the_value_and_exit_2(
    case: str, run_bundle: Runner, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a directory\n", encoding="utf-8")
    (tmp_path / "types.toml").write_text('jobs = "four"\n', encoding="utf-8")
    (tmp_path / "nested.toml").write_text('[steps.ingest]\ntimeout = "soon"\n', encoding="utf-8")
    ((extra, needle),) = [(e, n) for c, e, n in _bad_inputs(tmp_path) if c == case]
    out = tmp_path / "runs"
    args = ["run", "--mode", "apply", "--output-dir", str(out), "--matchup-id", KOREAN_ID, *extra]
    if "--api-base" not in extra:
        args += ["--api-base", "http://127.0.0.1:9"]
    before = _tree(tmp_path)

    result = run_bundle(*args, timeout=30)

    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("recovery-bundle: error: ")
    assert needle in lines[0], lines[0]
    assert SECRET_IN_URL not in result.output
    assert result.stdout == ""
    assert _tree(tmp_path) == before, "a usage error left files behind"


# --- whatever happens in the verification session, the report says it --------------------------

_CRASHING_CHECK = """\
def test_custom_invariant():
    raise RuntimeError("custom check blew up")
"""

_BROKEN_CONFTEST = """\
def pytest_collection_modifyitems(session, config, items):
    raise RuntimeError("conftest blew up")
"""


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"test_custom.py": _CRASHING_CHECK}, "RuntimeError: custom check blew up"),
        (
            {"conftest.py": _BROKEN_CONFTEST, "test_custom.py": "def test_x():\n    pass\n"},
            "pytest internal error in the verification session: RuntimeError: conftest blew up",
        ),
    ],
    ids=["crashing-check", "pytest-internal-error"],
)
def test_a_crash_in_the_verification_session_still_leaves_a_report_saying_so(
    files: dict[str, str],
    expected: str,
    recovery_sim: SimFactory,
    run_bundle: Runner,
    tmp_path: Path,
    assert_valid_report: ReportCheck,
) -> None:
    sim = recovery_sim(capture=FAST_CAPTURE)
    sim.seed()
    checks = tmp_path / "checks"
    checks.mkdir()
    for name, text in files.items():
        (checks / name).write_text(text, encoding="utf-8")

    result = run_bundle(
        "verify",
        "--config",
        str(sim.config_path),
        "--checks-dir",
        str(checks),
        "--matchup-id",
        KOREAN_ID,
    )

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    assert_valid_report(result.report)
    assert result.report["status"] == "failed"
    capture = result.step("capture")
    assert capture["status"] == "failed"
    if "conftest.py" in files:  # pytest itself broke: no check ran, the capture step says why
        assert capture["error"].startswith(expected), capture["error"]
        assert capture["log_path"] in capture["error"]
    else:  # the crashing check fails on its own; the generated endpoint checks still pass
        (crashed,) = result.checks("failed")
        assert crashed["nodeid"].endswith("test_custom.py::test_custom_invariant")
        assert expected in crashed["message"]
        assert len(result.checks("passed")) == 3
    assert any(g.startswith("rollback-guide: capture") for g in result.guides)


_EXPLODING_STEP_RUNNER = """\
import recovery_plugin.run.steps


def _explode(*args, **kwargs):
    raise RuntimeError("the step runner exploded")


recovery_plugin.run.steps.run_step = _explode
"""


def test_an_internal_error_during_a_step_still_leaves_a_report_saying_so(
    recovery_sim: SimFactory, run_bundle: Runner, tmp_path: Path, assert_valid_report: ReportCheck
) -> None:
    sim = recovery_sim(steps={"ingest": FAST_STEP}, capture=FAST_CAPTURE)
    inject = tmp_path / "inject"  # a sitecustomize that breaks the harness from inside
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(_EXPLODING_STEP_RUNNER, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(inject), os.environ.get("PYTHONPATH")) if p)
    out = tmp_path / "runs"

    result = run_bundle(*_apply_args(sim, out, KOREAN_ID), env={"PYTHONPATH": path})

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "internal error" in line]
    assert "RuntimeError: the step runner exploded" in line
    report = _read_report(out)
    assert_valid_report(report)
    assert report["status"] == "failed"
    assert report["error"] == "RuntimeError: the step runner exploded"
    assert report["finished_at"] is not None
    ingest = report["steps"][0]
    assert ingest["status"] == "failed"
    assert ingest["error"] == "the run stopped before this step finished"
    assert not (out / LOCK_NAME).exists()
