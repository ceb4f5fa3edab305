"""The fault matrix: every injectable fault, driven through the real CLI against the simulated service.

Each test starts a fresh simulated service with one fault (``recovery_sim``), runs
``recovery-bundle`` as an operator would (``run_bundle``: a real subprocess), and asserts what the
operator sees: the exit code, the report's statuses and attempts, the checklist's guide lines, the
check messages, and that no process of a stopped step survives. docs/reliability.md maps each
fault to the test here that proves it.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from conftest import KOREAN_ID, assert_processes_gone
from recovery_plugin import BundleResult
from recovery_plugin.sim.data import MATCHUP_IDS
from recovery_plugin.sim.faults import hang_pid_path
from recovery_plugin.sim.harness import SimulatedService

SimFactory = Callable[..., SimulatedService]
Runner = Callable[..., BundleResult]
ReportCheck = Callable[[dict[str, Any]], None]

# Short limits everywhere: a fault must show within a second or two, never the defaults' minutes.
FAST_STEP = {"timeout": 5, "kill_grace": 0.3, "backoff": 0.01, "max_backoff": 0.05}
FAST_CAPTURE = {"readiness_deadline": 5.0, "readiness_interval": 0.05}
GONE_DEADLINE_S = 5.0


def _apply(
    run_bundle: Runner, sim: SimulatedService, *ids: str, extra: Iterable[str] = ()
) -> BundleResult:
    args = ["run", "--mode", "apply", "--config", str(sim.config_path)]
    for matchup_id in ids:
        args += ["--matchup-id", matchup_id]
    return run_bundle(*args, *extra)


def _verify(run_bundle: Runner, sim: SimulatedService, *ids: str) -> BundleResult:
    args = ["verify", "--config", str(sim.config_path)]
    for matchup_id in ids:
        args += ["--matchup-id", matchup_id]
    return run_bundle(*args)


def _hang_pids(sim: SimulatedService, command: str) -> list[int]:
    path = hang_pid_path(sim.faults_path, command)
    assert path.is_file(), f"the {command} hang fault never started (no {path.name})"
    data = json.loads(path.read_text(encoding="utf-8"))
    return [int(data["pid"]), int(data["child_pid"])]


def _guide(result: BundleResult, prefix: str) -> str:
    (line,) = [g for g in result.guides if g.startswith(prefix)]
    return line


def _assert_attempts_recorded(result: BundleResult, step: dict[str, Any]) -> None:
    """attempts[]: numbered from 1, each with exit code, start time, duration and its own log."""
    assert result.run_dir is not None
    for number, attempt in enumerate(step["attempts"], start=1):
        assert attempt["attempt"] == number
        assert isinstance(attempt["exit_code"], int)
        datetime.fromisoformat(attempt["started_at"])
        assert attempt["duration_s"] >= 0
        log = Path(attempt["log_path"])
        assert log.is_file() and log.is_relative_to(result.run_dir)
        assert log.name == f"attempt-{number}.log"
    assert step["log_path"] == step["attempts"][-1]["log_path"]


# --- ingest faults ------------------------------------------------------------------------------


def test_ingest_failing_twice_succeeds_on_the_third_attempt(
    recovery_sim: SimFactory, run_bundle: Runner, assert_valid_report: ReportCheck
) -> None:
    # backoff 5 s uncapped would wait 5 s and 10 s; max_backoff caps every wait at 50 ms.
    sim = recovery_sim(
        faults={"ingest": {"fail_times": 2}},
        steps={"ingest": {**FAST_STEP, "retries": 2, "backoff": 5.0, "max_backoff": 0.05}},
    )
    result = _apply(run_bundle, sim, KOREAN_ID)

    assert result.exit_code == 0, result.output
    assert_valid_report(result.report)
    assert result.report["status"] == "success"
    ingest = result.step("ingest")
    assert ingest["status"] == "success"
    assert [(a["status"], a["exit_code"]) for a in ingest["attempts"]] == [
        ("failed", 1),
        ("failed", 1),
        ("success", 0),
    ]
    _assert_attempts_recorded(result, ingest)
    logs = [Path(a["log_path"]).read_text(encoding="utf-8") for a in ingest["attempts"]]
    assert "injected failure (injected_fail_times, invocation 1)" in logs[0]
    assert "injected failure (injected_fail_times, invocation 2)" in logs[1]
    assert "[ingest] success" in logs[2]
    starts = [datetime.fromisoformat(a["started_at"]) for a in ingest["attempts"]]
    assert starts == sorted(starts)
    assert (starts[2] - starts[0]).total_seconds() < 3.0, "max_backoff did not cap the waits"
    assert result.step("reprocess", KOREAN_ID)["status"] == "success"
    assert "[ingest] success" in result.output and "(3 attempts)" in result.output
    assert not result.guides


def test_ingest_always_failing_exhausts_retries_and_says_how_many_attempts(
    recovery_sim: SimFactory, run_bundle: Runner, assert_valid_report: ReportCheck
) -> None:
    sim = recovery_sim(
        faults={"ingest": {"always_fail": True}}, steps={"ingest": {**FAST_STEP, "retries": 2}}
    )
    result = _apply(run_bundle, sim, KOREAN_ID)

    assert result.exit_code == 1
    assert_valid_report(result.report)
    assert result.report["status"] == "failed"
    ingest = result.step("ingest")
    assert ingest["status"] == "failed"
    assert ingest["exit_code"] == 1
    assert [a["exit_code"] for a in ingest["attempts"]] == [1, 1, 1]
    _assert_attempts_recorded(result, ingest)
    assert ingest["error"] == "exited with code 1 (after 3 attempts)"
    guide = _guide(result, "retry-guide: ingest")
    assert "failed after 3 attempt(s), exit 1" in guide
    assert ingest["output_path"] in guide and ingest["log_path"] in guide
    # The mutating steps after it are skipped; capture and verification still run.
    assert result.step("reprocess", KOREAN_ID)["status"] == "skipped"
    assert result.step("capture")["status"] == "failed"
    assert result.report["verification"]["summary"]["total"] == 3
    assert guide in result.output


def test_ingest_exit_code_outside_retry_on_exit_codes_is_not_retried(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim(
        faults={"ingest": {"exit_code": 3}},
        steps={"ingest": {**FAST_STEP, "retries": 2, "retry_on_exit_codes": [75]}},
    )
    result = _apply(run_bundle, sim, KOREAN_ID)

    assert result.exit_code == 1
    ingest = result.step("ingest")
    assert ingest["status"] == "failed"
    assert ingest["exit_code"] == 3
    assert [a["exit_code"] for a in ingest["attempts"]] == [3]
    assert "failed after 1 attempt(s), exit 3" in _guide(result, "retry-guide: ingest")


def test_ingest_exit_code_listed_in_retry_on_exit_codes_is_retried(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim(
        faults={"ingest": {"exit_code": 75}},
        steps={"ingest": {**FAST_STEP, "retries": 2, "retry_on_exit_codes": [75]}},
    )
    result = _apply(run_bundle, sim, KOREAN_ID)

    assert result.exit_code == 1
    ingest = result.step("ingest")
    assert [a["exit_code"] for a in ingest["attempts"]] == [75, 75, 75]
    _assert_attempts_recorded(result, ingest)
    assert "failed after 3 attempt(s), exit 75" in _guide(result, "retry-guide: ingest")


def test_hanging_ingest_times_out_and_no_process_of_it_survives(
    recovery_sim: SimFactory, run_bundle: Runner, assert_valid_report: ReportCheck
) -> None:
    sim = recovery_sim(
        faults={"ingest": {"hang": True}},
        steps={"ingest": {**FAST_STEP, "timeout": 1.0, "retries": 0}},
    )
    started = time.monotonic()
    result = _apply(run_bundle, sim, KOREAN_ID)
    took = time.monotonic() - started

    assert result.exit_code == 1
    assert_valid_report(result.report)
    ingest = result.step("ingest")
    assert ingest["status"] == "timeout"
    assert ingest["attempts"][0]["status"] == "timeout"
    assert ingest["error"] == "timed out after 1s; process group stopped (after 1 attempt)"
    assert "[recovery-bundle] timed out after 1s" in Path(ingest["log_path"]).read_text(
        encoding="utf-8"
    )
    assert "retry-guide: ingest timeout after 1 attempt(s)" in _guide(result, "retry-guide: ingest")
    assert result.step("reprocess", KOREAN_ID)["status"] == "skipped"
    assert took < 15, f"a 1 s timeout took {took:.1f}s to stop the step"
    # The hanging command and the child it spawned are both gone: the whole group was stopped.
    assert_processes_gone(_hang_pids(sim, "ingest"))


def test_a_step_command_that_cannot_start_fails_with_the_reason(
    recovery_sim: SimFactory, run_bundle: Runner, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-such-ingest-program")
    sim = recovery_sim(steps={"ingest": {**FAST_STEP, "command": [missing]}})
    sim.seed()  # the data is there: verification can pass on its own
    refused = _apply(run_bundle, sim, KOREAN_ID)
    assert refused.exit_code == 2  # the preflight gate finds the missing program first
    assert "preflight failed" in refused.stderr and missing in refused.stderr
    result = _apply(run_bundle, sim, KOREAN_ID, extra=["--no-preflight"])

    assert result.exit_code == 1
    ingest = result.step("ingest")
    assert ingest["status"] == "failed"
    assert ingest["exit_code"] == 127
    assert ingest["error"].startswith(f"command not found: {missing}")
    assert result.step("reprocess", KOREAN_ID)["status"] == "skipped"
    assert result.step("capture")["status"] == "success"  # verification still ran
    assert result.report["verification"]["summary"]["passed"] == 3
    assert "retry-guide: ingest failed after 1 attempt(s), exit 127" in _guide(
        result, "retry-guide: ingest"
    )


# --- reprocess faults ---------------------------------------------------------------------------


def test_reprocess_faults_hit_only_their_ids_and_the_guide_command_reruns_them(
    recovery_sim: SimFactory, run_bundle: Runner, assert_valid_report: ReportCheck
) -> None:
    ok_id, fail_id, hang_id = MATCHUP_IDS[0], MATCHUP_IDS[1], MATCHUP_IDS[2]
    sim = recovery_sim(
        faults={"reprocess": {"fail_ids": [fail_id], "hang_ids": [hang_id]}},
        steps={"ingest": FAST_STEP, "reprocess": {**FAST_STEP, "timeout": 3.0}},
    )
    result = _apply(run_bundle, sim, ok_id, fail_id, hang_id)

    assert result.exit_code == 1
    assert_valid_report(result.report)
    assert result.step("ingest")["status"] == "success"
    assert result.step("reprocess", ok_id)["status"] == "success"
    failed = result.step("reprocess", fail_id)
    assert (failed["status"], failed["exit_code"]) == ("failed", 1)
    assert "injected failure" in Path(failed["log_path"]).read_text(encoding="utf-8")
    hung = result.step("reprocess", hang_id)
    assert hung["status"] == "timeout"
    assert_processes_gone(_hang_pids(sim, "reprocess"))
    # Capture still ran: the API serves every matchup (reprocess changes nothing it shows).
    assert result.step("capture")["status"] == "success"
    assert result.run_dir is not None
    failed_ids = json.loads((result.run_dir / "failed_reprocess_ids.json").read_text("utf-8"))
    assert failed_ids == [fail_id, hang_id]

    guide = _guide(result, "rollback-guide: reprocess")
    assert guide.startswith("rollback-guide: reprocess failed/timeout for 2 matchup id(s)")
    assert fail_id in guide and hang_id in guide and ok_id not in guide
    command = shlex.split(guide.rsplit("re-apply only them: ", 1)[1])
    assert command[:5] == ["recovery-bundle", "run", "--mode", "apply", "--skip-ingest"]

    # The guide's command is ready to run: once the faults are gone it re-applies only those ids.
    sim.set_faults(None)
    rerun = run_bundle(*command[1:])
    assert rerun.exit_code == 0, rerun.output
    assert [(s.get("matchup_id"), s["status"]) for s in rerun.steps("reprocess")] == [
        (fail_id, "success"),
        (hang_id, "success"),
    ]
    assert rerun.step("ingest")["status"] == "skipped"


# --- endpoint faults ----------------------------------------------------------------------------


ENDPOINT_FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    # matchup id -> (fault on that id's endpoint, what its check message must say)
    "status-503": (
        {"status": 503},
        "status mismatch: expected 200, got 503 (detail: injected fault)",
    ),
    "not-json": ({"not_json": True}, "body is not JSON"),
    "not-utf8": ({"not_utf8": True}, "body is not UTF-8"),
    "slow": ({"delay": 2.5}, "timed out waiting for the response"),
    "huge": ({"huge_mb": 1}, "response body too large"),
    "dropped": ({"drop": True}, "the server closed the connection without a complete response"),
    "redirect-loop": ({"redirect_loop": True}, "too many redirects"),
    "other-body": (
        {"body": {"matchup_id": "someone else"}},
        "body mismatch at key 'matchup_id': expected 'other-body', got 'someone else'",
    ),
}


def test_each_endpoint_fault_fails_only_its_own_check_with_the_exact_reason(
    recovery_sim: SimFactory, run_bundle: Runner, assert_valid_report: ReportCheck
) -> None:
    sim = recovery_sim(
        faults={
            "endpoints": {f"matchup:{mid}": fault for mid, (fault, _) in ENDPOINT_FAULTS.items()}
        },
        # concurrency 4: the simulated server's listen backlog is 5 (socketserver's default).
        capture={**FAST_CAPTURE, "timeout": 1.0, "max_body_bytes": 65536, "concurrency": 4},
    )
    sim.seed()
    result = _verify(run_bundle, sim, KOREAN_ID, *ENDPOINT_FAULTS)

    assert result.exit_code == 1
    assert_valid_report(result.report)
    outcomes = {(t["endpoint"], t["matchup_id"]): t for t in result.checks()}
    assert len(outcomes) == 2 + 1 + len(ENDPOINT_FAULTS)
    # The healthy checks pass although eight others fail around them.
    assert outcomes[("health", None)]["outcome"] == "passed"
    assert outcomes[("summary", None)]["outcome"] == "passed"
    assert outcomes[("matchup", KOREAN_ID)]["outcome"] == "passed"
    for matchup_id, (_, reason) in ENDPOINT_FAULTS.items():
        check = outcomes[("matchup", matchup_id)]
        assert check["outcome"] == "failed", matchup_id
        assert check["message"].startswith(f"GET /api/v1/matchups/{matchup_id}: "), check["message"]
        assert reason in check["message"], (matchup_id, check["message"])
        assert check["message"].splitlines()[0] in result.output
    summary = result.report["verification"]["summary"]
    assert (summary["passed"], summary["failed"], summary["total"]) == (3, 8, 11)

    huge = result.capture("matchup", "huge")
    assert huge["truncated"] is True and huge["body_bytes"] == 65536
    assert result.capture("matchup", "dropped")["error"]["kind"] == "connection_dropped"
    assert result.capture("matchup", "redirect-loop")["error"]["kind"] == "too_many_redirects"
    assert result.capture("matchup", "slow")["error"]["kind"] == "timeout"
    assert result.capture("matchup", "status-503")["status"] == 503
    guide = _guide(result, "rollback-guide: capture")
    assert all(f"matchup[{mid}]" in guide for mid in ENDPOINT_FAULTS)


def test_service_down_past_the_readiness_deadline_still_verifies_and_says_why(
    recovery_sim: SimFactory, run_bundle: Runner, assert_valid_report: ReportCheck
) -> None:
    # The server sleeps 60 s before binding: for this whole run, nothing listens on its port.
    sim = recovery_sim(
        faults={"service": {"start_delay": 60}},
        capture={"readiness_deadline": 0.5, "readiness_interval": 0.05, "timeout": 1.0},
    )
    started = time.monotonic()
    result = _verify(run_bundle, sim, KOREAN_ID)

    assert time.monotonic() - started < 15
    assert result.exit_code == 1
    assert_valid_report(result.report)
    readiness = result.report["readiness"]
    assert readiness["ready"] is False
    assert readiness["deadline_s"] == 0.5
    assert len(readiness["attempts"]) >= 2
    assert all(a["outcome"].startswith("connection_refused") for a in readiness["attempts"])
    # Verification ran anyway, every check failing with the reason.
    messages = {t["endpoint"]: t["message"] for t in result.checks("failed")}
    assert set(messages) == {"health", "summary", "matchup"}
    assert all("connection refused (is the service up?)" in m for m in messages.values())
    (line,) = [c for c in result.checklist if c.startswith("readiness:")]
    assert "did not answer 2xx within 0.5s" in line
    assert result.step("capture")["status"] == "failed"


def test_a_service_coming_up_late_is_absorbed_by_the_readiness_wait(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim(
        faults={"service": {"start_delay": 3.0}},
        capture={"readiness_deadline": 10.0, "readiness_interval": 0.05},
    )
    sim.seed()
    result = _verify(run_bundle, sim, KOREAN_ID)

    assert result.exit_code == 0, result.output
    readiness = result.report["readiness"]
    assert readiness["ready"] is True
    assert readiness["attempts"][0]["outcome"].startswith("connection_refused")
    assert readiness["attempts"][-1]["outcome"] == "HTTP 200"
    assert 0 < readiness["elapsed_s"] < 10.0
    assert result.report["verification"]["summary"]["passed"] == 3


_RSS_LAUNCHER = """\
import json, resource, subprocess, sys
proc = subprocess.run([sys.executable, "-m", "recovery_plugin", *json.loads(sys.argv[1])],
                      capture_output=True, text=True, check=False)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(json.dumps({"code": proc.returncode, "peak_kib": peak, "output": proc.stdout + proc.stderr}))
"""


def _peak_rss(args: list[str]) -> tuple[int, int, str]:
    """Run the launcher in a dedicated process; (exit code, its peak RSS in KiB, its output)."""
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_LAUNCHER, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(proc.stdout)
    return int(data["code"]), int(data["peak_kib"]), str(data["output"])


def test_a_200_mb_body_is_truncated_and_memory_stays_bounded(
    recovery_sim: SimFactory, tmp_path: Path
) -> None:
    sim = recovery_sim(capture=FAST_CAPTURE)
    sim.seed()
    args = ["run", "--mode", "apply", "--skip-ingest", "--skip-reprocess"]
    args += ["--config", str(sim.config_path), "--matchup-id", KOREAN_ID]

    code, baseline_kib, output = _peak_rss([*args, "--output-dir", str(tmp_path / "baseline")])
    assert code == 0, output
    sim.set_faults({"endpoints": {"summary": {"huge_mb": 200}}})
    huge_dir = tmp_path / "huge"
    started = time.monotonic()
    code, peak_kib, output = _peak_rss([*args, "--output-dir", str(huge_dir)])

    assert time.monotonic() - started < 30
    assert code == 1, output
    growth_mb = (peak_kib - baseline_kib) / 1024
    assert growth_mb < 100, f"peak RSS grew {growth_mb:.0f} MB over the baseline for a 200 MB body"
    (report_path,) = huge_dir.glob("*/recovery_bundle_report.json")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    (failed,) = [t for t in report["verification"]["tests"] if t["outcome"] == "failed"]
    assert failed["endpoint"] == "summary"
    assert "too large" in failed["message"]
    capture = json.loads((report_path.parent / "api_capture.json").read_text(encoding="utf-8"))
    (summary,) = [c for c in capture["captures"] if c["name"] == "summary"]
    assert summary["truncated"] is True
    assert summary["body_bytes"] == 10 * 1024 * 1024  # the default cap
    assert len(summary["body"]) <= 2000  # only a preview of the truncated body is kept
    assert (report_path.parent / "api_capture.json").stat().st_size < 1024 * 1024
