"""Canary and batches, each verified before the next, under a failure ceiling (through the real CLI)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.names import CAPTURE_NAME
from recovery_plugin.sim.data import MATCHUP_IDS

ReportCheck = Callable[[dict[str, Any]], None]
FAST = {"reprocess": {"backoff": 0.01}}


def _apply(config: str, ids: list[str], *flags: str) -> list[str]:
    argv = ["run", "--mode", "apply", "--config", config, "--jobs", "1", *flags]
    for matchup_id in ids:
        argv += ["--matchup-id", matchup_id]
    return argv


def test_a_failing_canary_stops_the_rest(
    recovery_sim: RecoverySim, run_bundle: RunBundle, assert_valid_report: ReportCheck
) -> None:
    bad, *rest = MATCHUP_IDS[:4]
    sim = recovery_sim(faults={"reprocess": {"fail_ids": [bad]}}, steps=FAST)

    # --max-failures 10 tolerates the failure itself: it is the canary's verdict that stops the run.
    result = run_bundle(
        *_apply(str(sim.config_path), [bad, *rest], "--canary", "1", "--max-failures", "10")
    )

    assert result.exit_code == 1, result.output
    assert_valid_report(result.report)
    batches = result.report["batches"]
    assert [(b["kind"], b["ids"], b["verdict"]) for b in batches["items"]] == [
        ("canary", [bad], "failed"),
        ("batch", rest, "skipped"),
    ]
    assert batches["stopped_after"] == 1
    assert batches["ids_left"] == rest
    for matchup_id in rest:
        step = result.step("reprocess", matchup_id)
        assert step["status"] == "skipped"
        assert step["error"] == "skipped: canary batch 1 failed (1 reprocess step(s) failed)"
        assert step["attempts"] == []
    (resume,) = [g for g in result.guides if g.startswith("resume-guide:")]
    assert "3 id(s) left to do" in resume
    # The canary failed: resuming runs a canary again (the operator's flags kept).
    command = (
        f"recovery-bundle run --resume {result.report['run_dir']} --canary 1 --max-failures 10"
    )
    assert command in resume
    assert "[canary 1/2] failed" in result.output


def test_a_canary_whose_checks_fail_stops_the_rest(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    good = MATCHUP_IDS[0]
    sim = recovery_sim(steps=FAST)
    # A canary's own step can succeed while its checks fail: here the matchup check expects a
    # body the service never returns.
    sim.write_runbook(
        endpoints=[{"name": "matchup", "path": "/api/v1/matchups/{matchup_id}",
                    "expect_json": {"matchup_id": "not-{matchup_id}"}}]
    )  # fmt: skip

    result = run_bundle(*_apply(str(sim.config_path), [good, MATCHUP_IDS[1]], "--canary", "1"))

    assert result.exit_code == 1
    canary, rest = result.report["batches"]["items"]
    assert canary["verdict"] == "failed"
    assert "1 of 1 reprocessed; checks: 0 passed, 1 failed" in canary["summary"]
    assert rest["verdict"] == "skipped"
    assert result.step("reprocess", MATCHUP_IDS[1])["error"] == (
        "skipped: canary batch 1 failed (its checks failed)"
    )


def test_every_batch_is_verified_before_the_next(
    recovery_sim: RecoverySim, run_bundle: RunBundle, assert_valid_report: ReportCheck
) -> None:
    ids = list(MATCHUP_IDS[:4])
    sim = recovery_sim(steps=FAST)

    result = run_bundle(*_apply(str(sim.config_path), ids, "--canary", "1", "--batch-size", "50%"))

    assert result.exit_code == 0, result.output
    assert_valid_report(result.report)
    batches = result.report["batches"]
    assert [(b["kind"], b["ids"], b["verdict"]) for b in batches["items"]] == [
        ("canary", ids[:1], "passed"),
        ("batch", ids[1:3], "passed"),
        ("batch", ids[3:], "passed"),
    ]
    assert batches["items"][1]["summary"].startswith("2 of 2 reprocessed; checks: 4 passed")
    assert batches["stopped_after"] is None and batches["ids_left"] == []
    assert result.run_dir is not None
    for index in (1, 2, 3):  # each batch's own session, beside the run's
        assert (result.run_dir / "batches" / f"batch-{index}" / CAPTURE_NAME).is_file()
    assert "batch 2 (batch, 2 id(s)): passed" in "\n".join(result.checklist)
    assert not [g for g in result.guides if g.startswith("resume-guide:")]


def test_max_failures_stops_scheduling_once_crossed(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    first_bad, second_bad, *rest = MATCHUP_IDS[:5]
    sim = recovery_sim(faults={"reprocess": {"fail_ids": [first_bad, second_bad]}}, steps=FAST)

    ids = [first_bad, second_bad, *rest]
    result = run_bundle(*_apply(str(sim.config_path), ids, "--max-failures", "1"))

    assert result.exit_code == 1
    assert result.step("reprocess", first_bad)["status"] == "failed"
    assert result.step("reprocess", second_bad)["status"] == "failed"
    for matchup_id in rest:
        assert result.step("reprocess", matchup_id)["error"] == (
            "skipped: --max-failures 1 crossed (2 reprocess step(s) failed, 1 allowed)"
        )
    assert result.report["batches"] is None  # a ceiling alone makes no batches


def test_max_failures_as_a_percentage_tolerates_failures_below_it(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    bad, *rest = MATCHUP_IDS[:4]
    sim = recovery_sim(faults={"reprocess": {"fail_ids": [bad]}}, steps=FAST)

    result = run_bundle(*_apply(str(sim.config_path), [bad, *rest], "--max-failures", "25%"))

    assert result.step("reprocess", bad)["status"] == "failed"
    assert all(result.step("reprocess", m)["status"] == "success" for m in rest)


def test_dry_run_plans_the_batches(recovery_sim: RecoverySim, run_bundle: RunBundle) -> None:
    ids = list(MATCHUP_IDS[:3])
    sim = recovery_sim()

    argv = ["run", "--config", str(sim.config_path), "--canary", "1", "--batch-size", "1"]
    result = run_bundle(*argv, *[a for m in ids for a in ("--matchup-id", m)])

    assert result.exit_code == 0, result.output
    items = result.report["batches"]["items"]
    assert [(b["ids"], b["verdict"]) for b in items] == [([m], "planned") for m in ids]
    assert all(s["status"] == "planned" for s in result.steps("reprocess"))
    assert not (result.run_dir / "batches").exists()


def test_bad_batch_flags_are_one_line_usage_errors(
    recovery_sim: RecoverySim, run_bundle: RunBundle
) -> None:
    sim = recovery_sim()
    cases = {
        ("--canary", "0"): "--canary: must be at least 1, got '0'",
        ("--batch-size", "lots"): "--batch-size: expected a number of ids (N) or a percentage (P%)",
        ("--max-failures", "150%"): "--max-failures: a percentage must be between 0% and 100%",
        ("--canary", "0%"): "--canary: a percentage must be between 1% and 100%",
    }
    for flag, message in cases.items():
        argv = ["run", "--mode", "apply", "--config", str(sim.config_path), *flag]
        result = run_bundle(*argv, "--matchup-id", MATCHUP_IDS[0])
        assert result.exit_code == 2, (flag, result.output)
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.output
        assert result.report_path is None  # nothing ran, nothing was written
