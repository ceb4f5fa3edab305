"""Comparing two runs: real runs of the CLI against the simulated service, where a fault makes
run A fail and run B (the fault cleared) pass."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.errors import ExitCode, RecoveryError
from recovery_plugin.render.compare import (
    MAX_CHANGES_PER_ENDPOINT,
    Comparison,
    compare_run_dirs,
    compare_runs,
)
from recovery_plugin.render.compare_views import render_comparison
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID

OTHER_ID = "20260603|광역자치단체장|26-000"


@dataclass
class TwoRuns:
    run_a: Path
    run_b: Path
    sample_size: int


@pytest.fixture
def two_runs(recovery_sim: RecoverySim, run_bundle: RunBundle) -> TwoRuns:
    """Run A: one reprocess fails, the summary answers 500, a matchup answers a stale sample
    size. Run B: no fault."""
    sim = recovery_sim()
    sim.seed()
    real = httpx.get(sim.matchup_url(OTHER_ID), timeout=10).json()
    stale = {**real, "sample_size": real["sample_size"] - 100}
    sim.set_faults(
        {
            "reprocess": {"fail_ids": [DEFAULT_MATCHUP_ID]},
            "endpoints": {"summary": {"status": 500}, f"matchup:{OTHER_ID}": {"body": stale}},
        }
    )
    apply = ["run", "--mode", "apply", "--config", str(sim.config_path)]
    ids = ["--matchup-id", DEFAULT_MATCHUP_ID, "--matchup-id", OTHER_ID]
    first = run_bundle(*apply, *ids)
    assert first.exit_code == 1, first.output
    sim.set_faults(None)
    second = run_bundle(*apply, *ids)
    assert second.exit_code == 0, second.output
    assert first.run_dir is not None and second.run_dir is not None
    return TwoRuns(first.run_dir, second.run_dir, real["sample_size"])


def test_a_failed_run_and_its_fixed_rerun_show_what_changed(two_runs: TwoRuns) -> None:
    comparison = compare_run_dirs(two_runs.run_a, two_runs.run_b)

    assert (comparison.run_a.status, comparison.run_b.status) == ("failed", "success")
    step, capture_step = comparison.steps
    assert (step.name, step.matchup_id) == ("reprocess", DEFAULT_MATCHUP_ID)
    assert (capture_step.name, capture_step.status_a, capture_step.status_b) == (
        "capture",
        "failed",
        "success",
    )
    assert (step.status_a, step.exit_code_a, step.status_b, step.exit_code_b) == (
        "failed",
        1,
        "success",
        0,
    )
    (check,) = comparison.checks
    assert (check.nodeid, check.outcome_a, check.outcome_b) == (
        "recovery::summary",
        "failed",
        "passed",
    )
    assert "expected 200, got 500" in (check.message_a or "")
    changed = {(e.endpoint, e.matchup_id): e for e in comparison.endpoints}
    summary = changed[("summary", None)]
    assert (summary.status_a, summary.status_b) == (500, 200)
    removed = {v.path: v for v in summary.changes if v.kind == "removed"}
    assert removed["detail"].old == '"injected fault"'
    assert {"as_of", "scope_breakdown"} <= {v.path for v in summary.changes if v.kind == "added"}
    matchup = changed[("matchup", OTHER_ID)]
    (value,) = [v for v in matchup.changes if v.path == "sample_size"]
    assert (value.old, value.new) == (
        str(two_runs.sample_size - 100),
        str(two_runs.sample_size),
    )
    # Same data in both runs; only the freshness the service computes from its clock may move.
    unchanged = changed.get(("matchup", DEFAULT_MATCHUP_ID))
    assert unchanged is None or {v.path for v in unchanged.changes} <= {
        "freshness_hours",
        "source_trace.freshness_hours",  # the same clock-driven value, reported twice
    }
    assert comparison.duration.a is not None and comparison.duration.b is not None
    assert {d.label for d in comparison.step_durations} == {
        "ingest",
        f"reprocess [{DEFAULT_MATCHUP_ID}]",
        f"reprocess [{OTHER_ID}]",
        "capture",
    }


def test_the_text_markdown_and_json_renderings(two_runs: TwoRuns) -> None:
    comparison = compare_run_dirs(two_runs.run_a, two_runs.run_b)

    text = render_comparison(comparison, "text")
    assert f"reprocess [{DEFAULT_MATCHUP_ID}]: failed (exit 1) -> success (exit 0)" in text
    assert "recovery::summary: failed -> passed" in text
    # The stale body is a snapshot: a value computed from the clock (freshness) may differ too.
    assert re.search(
        rf"matchup \[{re.escape(OTHER_ID)}\]: status 200 -> 200, \d+ value\(s\) changed", text
    )
    assert f"sample_size: {two_runs.sample_size - 100} -> {two_runs.sample_size}" in text
    assert "summary: status 500 -> 200" in text

    markdown = render_comparison(comparison, "markdown")
    assert markdown.startswith("## recovery-bundle compare: failed -> success\n")
    assert (
        "| reprocess [20260603\\|광역자치단체장\\|11-000] | failed (exit 1) | success (exit 0) |"
        in markdown
    )
    assert f"  - `sample_size`: {two_runs.sample_size - 100} -> {two_runs.sample_size}" in markdown

    data = json.loads(render_comparison(comparison, "json"))
    assert data["changed"] is True
    assert data["steps"][0]["status_a"] == "failed"
    assert data["checks"][0]["nodeid"] == "recovery::summary"
    assert data["duration"]["delta"] == pytest.approx(
        data["duration"]["b"] - data["duration"]["a"], abs=0.002
    )


def test_a_run_compared_with_itself_has_no_changes(two_runs: TwoRuns) -> None:
    comparison = compare_run_dirs(two_runs.run_b, two_runs.run_b)

    assert not comparison.changed
    assert comparison.steps == comparison.checks == comparison.endpoints == []
    assert "No step or check changed outcome; no captured value changed." in render_comparison(
        comparison, "text"
    )


def test_a_missing_run_directory_is_a_one_line_usage_error(tmp_path: Path) -> None:
    with pytest.raises(RecoveryError) as caught:
        compare_run_dirs(tmp_path / "nope", tmp_path)
    assert caught.value.message == f"compare RUN_A: no such run directory: {tmp_path / 'nope'}"
    assert caught.value.exit_code == ExitCode.USAGE


def test_a_directory_without_a_report_names_the_argument(tmp_path: Path) -> None:
    write_run(tmp_path / "a", report())
    (tmp_path / "b").mkdir()
    with pytest.raises(
        RecoveryError, match=r"^compare RUN_B: no report at .*b/recovery_bundle_report\.json$"
    ):
        compare_run_dirs(tmp_path / "a", tmp_path / "b")


def test_a_corrupt_capture_file_is_an_error_naming_it(tmp_path: Path) -> None:
    write_run(tmp_path / "a", report())
    write_run(tmp_path / "b", report())
    (tmp_path / "b" / "api_capture.json").write_text('{"captures": [', encoding="utf-8")
    with pytest.raises(RecoveryError) as caught:
        compare_run_dirs(tmp_path / "a", tmp_path / "b")
    assert caught.value.message == (
        f"compare RUN_B: unreadable {tmp_path / 'b' / 'api_capture.json'}: not a capture file"
    )


# --- the value diff, on hand-made runs --------------------------------------------------------


def report(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "run_id": "r",
        "status": "success",
        "mode": "apply",
        "duration_s": 1.0,
        "steps": [],
        "verification": {"summary": {}, "tests": []},
    }
    return data | changes


def write_run(
    run_dir: Path, data: dict[str, Any], captures: list[dict[str, Any]] | None = None
) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / "recovery_bundle_report.json").write_text(json.dumps(data), encoding="utf-8")
    if captures is not None:
        (run_dir / "api_capture.json").write_text(
            json.dumps({"api_base": "x", "captures": captures}), encoding="utf-8"
        )


def capture(
    body: Any, name: str = "matchup", matchup_id: str | None = "m1", **extra: Any
) -> dict[str, Any]:
    return {"name": name, "matchup_id": matchup_id, "status": 200, "body": body} | extra


def compare_bodies(
    tmp_path: Path, old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> Comparison:
    write_run(tmp_path / "a", report(), old)
    write_run(tmp_path / "b", report(), new)
    return compare_run_dirs(tmp_path / "a", tmp_path / "b")


def test_nested_values_are_compared_by_path_with_old_and_new(tmp_path: Path) -> None:
    old = {"candidates": [{"name": "김", "support": 41.2}, {"name": "이", "support": 38.0}], "n": 1}
    new = {"candidates": [{"name": "김", "support": 43.0}], "n": 1, "note": "revised"}

    (endpoint,) = compare_bodies(tmp_path, [capture(old)], [capture(new)]).endpoints

    changes = [(v.path, v.kind, v.old, v.new) for v in endpoint.changes]
    assert changes == [
        ("candidates[0].support", "changed", "41.2", "43.0"),
        ("candidates[1]", "removed", '{"name": "이", "support": 38.0}', None),
        ("note", "added", None, '"revised"'),
    ]


def test_long_values_are_cut_and_many_changes_counted(tmp_path: Path) -> None:
    old = {f"k{i}": i for i in range(MAX_CHANGES_PER_ENDPOINT + 5)} | {"text": "a" * 500}
    new = {f"k{i}": i + 1 for i in range(MAX_CHANGES_PER_ENDPOINT + 5)} | {"text": "b" * 500}

    (endpoint,) = compare_bodies(tmp_path, [capture(old)], [capture(new)]).endpoints

    assert len(endpoint.changes) == MAX_CHANGES_PER_ENDPOINT
    assert endpoint.more_changes == 6
    text = render_comparison(compare_run_dirs(tmp_path / "a", tmp_path / "b"), "text")
    assert "(+6 more)" in text
    long_one = compare_bodies(tmp_path / "x", [capture({"t": "a" * 500})], [capture({"t": "b"})])
    (value,) = long_one.endpoints[0].changes
    assert value.old is not None and len(value.old) == 120 and value.old.endswith("…")


def test_a_type_change_and_a_transport_error_are_changes(tmp_path: Path) -> None:
    failed = capture(
        None, status=None, error={"kind": "timeout", "message": "no answer within 10s"}
    )

    comparison = compare_bodies(
        tmp_path,
        [capture({"n": 1}), failed | {"matchup_id": "m2"}],
        [capture({"n": 1.0}), capture({"ok": True}, matchup_id="m2")],
    )

    first, second = comparison.endpoints
    assert [(v.path, v.old, v.new) for v in first.changes] == [("n", "1", "1.0")]
    assert (second.status_a, second.problem_a, second.problem_b) == (
        None,
        "timeout: no answer within 10s",
        None,
    )
    assert "problem timeout: no answer within 10s -> none" in render_comparison(comparison, "text")


def test_an_endpoint_captured_in_only_one_run_is_listed(tmp_path: Path) -> None:
    comparison = compare_bodies(
        tmp_path, [capture({})], [capture({}), capture({}, matchup_id="m9")]
    )

    (only,) = comparison.endpoints
    assert (only.matchup_id, only.only_in) == ("m9", "b")
    assert "matchup [m9]: only in run B" in render_comparison(comparison, "text")


def test_a_run_without_captures_is_noted_not_an_error(tmp_path: Path) -> None:
    comparison = compare_bodies(tmp_path, [capture({})], [capture({})])
    dry = tmp_path / "dry"
    write_run(dry, report(mode="dry-run", status="dry-run"))

    comparison = compare_runs(
        report(), report(mode="dry-run", status="dry-run"), tmp_path / "a", dry
    )

    assert comparison.endpoints == []
    assert comparison.notes == ["run B has no api_capture.json: its endpoints are not compared"]
    assert "note: run B has no api_capture.json" in render_comparison(comparison, "text")


def test_steps_and_checks_present_in_one_run_only_changed_outcome(tmp_path: Path) -> None:
    a = report(
        steps=[{"name": "ingest", "status": "success", "exit_code": 0, "duration_s": 1.0}],
        verification={"tests": [{"nodeid": "recovery::health", "outcome": "passed"}]},
    )
    b = report(
        steps=[
            {"name": "ingest", "status": "success", "exit_code": 0, "duration_s": 3.5},
            {"name": "reprocess", "matchup_id": "m1", "status": "skipped", "exit_code": None},
        ],
        verification={"tests": []},
    )

    comparison = compare_runs(a, b, tmp_path, tmp_path)

    (step,) = comparison.steps
    assert (step.matchup_id, step.status_a, step.status_b) == ("m1", None, "skipped")
    (check,) = comparison.checks
    assert (check.outcome_a, check.outcome_b) == ("passed", None)
    (duration,) = comparison.step_durations
    assert (duration.label, duration.delta) == ("ingest", 2.5)
    text = render_comparison(comparison, "text")
    assert "reprocess [m1]: (absent) -> skipped" in text
    assert "ingest  1.00s -> 3.50s (+2.50s)" in text


# --- the CLI command ---------------------------------------------------------------------


def test_the_compare_command_prints_text_markdown_and_json(
    two_runs: TwoRuns, run_bundle: RunBundle
) -> None:
    text = run_bundle("compare", str(two_runs.run_a), str(two_runs.run_b))
    assert text.exit_code == 0, text.output
    assert f"reprocess [{DEFAULT_MATCHUP_ID}]: failed (exit 1) -> success (exit 0)" in text.stdout

    markdown = run_bundle(
        "compare", str(two_runs.run_a), str(two_runs.run_b), "--format", "markdown"
    )
    assert markdown.stdout.startswith("## recovery-bundle compare: failed -> success")

    as_json = run_bundle("compare", str(two_runs.run_a), str(two_runs.run_b), "--json")
    assert json.loads(as_json.stdout)["checks"][0]["nodeid"] == "recovery::summary"


def test_the_compare_command_on_a_missing_run_exits_2_with_one_line(
    tmp_path: Path, run_bundle: RunBundle
) -> None:
    write_run(tmp_path / "a", report())

    result = run_bundle("compare", str(tmp_path / "a"), str(tmp_path / "gone"))

    assert result.exit_code == 2
    assert result.stdout == ""
    assert (
        result.stderr
        == f"recovery-bundle: error: compare RUN_B: no such run directory: {tmp_path / 'gone'}\n"
    )


def test_report_copies_kept_elsewhere_are_compared_with_their_runs_captures(
    two_runs: TwoRuns, tmp_path: Path
) -> None:
    copies = []
    for name, run_dir in (("a.json", two_runs.run_a), ("b.json", two_runs.run_b)):
        copy = tmp_path / "ticket" / name
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes((run_dir / "recovery_bundle_report.json").read_bytes())
        copies.append(copy)

    from_copies = compare_run_dirs(*copies)

    assert from_copies.notes == []  # the captures were found in the runs the copies name
    assert from_copies.to_dict() == compare_run_dirs(two_runs.run_a, two_runs.run_b).to_dict()
