"""The operator's experience: many ids, id files, resume, before/after evidence, show and history."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conftest import KOREAN_ID
from recovery_plugin import BundleResult
from recovery_plugin.cli import cli
from recovery_plugin.sim.data import MATCHUP_IDS
from recovery_plugin.sim.harness import SimulatedService

SimFactory = Callable[..., SimulatedService]
Runner = Callable[..., BundleResult]


def _dry_run_report(cli_runner: CliRunner, tmp_path: Path, *args: str) -> dict[str, Any]:
    result = cli_runner.invoke(cli, ["run", "--output-dir", str(tmp_path / "out"), *args])
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "out").glob("*/recovery_bundle_report.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_matchup_file_lines_with_comments(cli_runner: CliRunner, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(f"# region 11\n{KOREAN_ID}\n\n  B  \n# done\nB\n", encoding="utf-8")
    result = cli_runner.invoke(
        cli,
        [
            "run",
            "--output-dir",
            str(tmp_path / "out"),
            "--matchup-id",
            "A",
            "--matchup-file",
            str(ids),
        ],
    )
    assert result.exit_code == 0
    assert "duplicate matchup id 'B'" in result.output
    report = _dry_run_report(cli_runner, tmp_path / "again", "--matchup-file", str(ids))
    assert report["matchup_ids"] == [KOREAN_ID, "B"]


def test_matchup_file_json_list(cli_runner: CliRunner, tmp_path: Path) -> None:
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(["x/y", " spaced id "]), encoding="utf-8")
    report = _dry_run_report(cli_runner, tmp_path, "--matchup-file", str(ids))
    assert report["matchup_ids"] == ["x/y", " spaced id "]
    assert [s["matchup_id"] for s in report["steps"] if s["name"] == "reprocess"] == [
        "x/y",
        " spaced id ",
    ]


def test_bad_matchup_files_are_one_line_errors(cli_runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('["ok", 3]', encoding="utf-8")
    for path, needle in ((bad, "list of strings"), (tmp_path / "absent.txt", "not found")):
        result = cli_runner.invoke(
            cli, ["run", "--output-dir", str(tmp_path / "o"), "--matchup-file", str(path)]
        )
        assert result.exit_code == 2
        assert needle in result.output and str(path) in result.output
        assert "Traceback" not in result.output


def test_failed_ids_get_a_ready_to_run_command(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    failing = list(MATCHUP_IDS[:2])
    sim = recovery_sim(faults={"reprocess": {"fail_ids": failing}})
    args = [
        "run",
        "--mode",
        "apply",
        "--config",
        str(sim.config_path),
        "--jobs",
        "3",
        "--continue-on-error",
    ]
    for matchup_id in MATCHUP_IDS[:4]:
        args += ["--matchup-id", matchup_id]
    result = run_bundle(*args)
    assert result.exit_code == 1
    statuses = {s["matchup_id"]: s["status"] for s in result.steps("reprocess")}
    assert statuses == {i: ("failed" if i in failing else "success") for i in MATCHUP_IDS[:4]}
    (guide,) = [g for g in result.guides if g.startswith("rollback-guide: reprocess")]
    assert "for 2 matchup id(s)" in guide
    command = guide.split("re-apply only them: ", 1)[1]
    assert command.startswith("recovery-bundle run --mode apply --skip-ingest")
    for matchup_id in failing:
        assert matchup_id in guide
    for matchup_id in MATCHUP_IDS[2:4]:
        assert matchup_id not in guide
    assert result.run_dir is not None
    assert (
        json.loads((result.run_dir / "failed_reprocess_ids.json").read_text(encoding="utf-8"))
        == failing
    )


def test_resume_reruns_only_what_failed(recovery_sim: SimFactory, run_bundle: Runner) -> None:
    failing = MATCHUP_IDS[1]
    sim = recovery_sim(faults={"reprocess": {"fail_ids": [failing]}})
    args = ["run", "--mode", "apply", "--config", str(sim.config_path), "--continue-on-error"]
    for matchup_id in MATCHUP_IDS[:3]:
        args += ["--matchup-id", matchup_id]
    first = run_bundle(*args)
    assert first.exit_code == 1
    sim.set_faults(None)
    second = run_bundle(
        "run",
        "--resume",
        str(first.run_dir),
        "--config",
        str(sim.config_path),  # the config is resolved again, never read from the report
        "--output-dir",
        str(first.run_dir.parent),
    )
    assert second.exit_code == 0, second.output
    report = second.report
    assert report["resumed_from"] == str(first.run_dir)
    assert report["matchup_ids"] == list(MATCHUP_IDS[:3])
    assert second.step("ingest")["status"] == "skipped"
    assert "resumed" in second.step("ingest")["error"]
    assert second.step("reprocess", failing)["status"] == "success"
    assert second.step("reprocess", failing)["attempts"]
    for done in (MATCHUP_IDS[0], MATCHUP_IDS[2]):
        assert second.step("reprocess", done)["status"] == "skipped"
    assert second.step("capture")["status"] == "success"
    assert report["verification"]["summary"]["total"] == 5


def test_resume_of_a_missing_run_is_a_usage_error(cli_runner: CliRunner, tmp_path: Path) -> None:
    result = cli_runner.invoke(cli, ["run", "--resume", str(tmp_path)])
    assert result.exit_code == 2
    assert "--resume" in result.output and "recovery_bundle_report.json" in result.output


def test_apply_records_before_and_after_evidence(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim()
    result = run_bundle(
        "run", "--mode", "apply", "--config", str(sim.config_path), "--matchup-id", KOREAN_ID
    )
    assert result.exit_code == 0
    evidence = result.report["evidence"]
    before = json.loads(Path(evidence["before"]).read_text(encoding="utf-8"))
    assert {(c["name"], c["status"]) for c in before["captures"]} == {
        ("health", 200),
        ("summary", 200),
        ("matchup", 404),
    }
    diffs = {d["endpoint"]: d for d in evidence["diffs"]}
    matchup = diffs["matchup"]
    assert (matchup["status_before"], matchup["status_after"]) == (404, 200)
    assert "title" in matchup["added"] and "detail" in matchup["removed"]
    assert diffs["health"]["changed_any"] is False
    assert "as_of" in diffs["summary"]["changed"]
    assert diffs["summary"]["changed"]["as_of"]["before"] is None


def test_show_history_and_html(run_bundle: Runner, tmp_path: Path, cli_runner: CliRunner) -> None:
    demo = run_bundle("demo", "--output-dir", str(tmp_path / "demo"))
    assert demo.exit_code == 0
    run_dir = demo.run_dir
    assert run_dir is not None
    text = cli_runner.invoke(cli, ["show", str(run_dir)])
    assert text.exit_code == 0
    assert f"run {demo.report['run_id']}" in text.output
    assert "Verification: 8 passed, 0 failed" in text.output
    markdown = cli_runner.invoke(
        cli, ["show", str(run_dir / "recovery_bundle_report.json"), "--format", "markdown"]
    )
    assert markdown.output.startswith("## recovery-bundle apply: success")
    page = tmp_path / "run.html"
    html = cli_runner.invoke(cli, ["show", str(run_dir), "--format", "html", "-o", str(page)])
    assert html.exit_code == 0
    content = page.read_text(encoding="utf-8")
    assert content.startswith("<!DOCTYPE html>")
    assert content.count('class="row"') >= 8  # one timeline bar per attempt
    assert "광역자치단체장" in content and "<script" not in content
    history = cli_runner.invoke(cli, ["history", "--output-dir", str(run_dir.parent)])
    assert history.exit_code == 0
    assert demo.report["run_id"] in history.output and "success" in history.output


def test_show_rejects_what_is_not_a_report(cli_runner: CliRunner, tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text("[]", encoding="utf-8")
    result = cli_runner.invoke(cli, ["show", str(junk)])
    assert result.exit_code == 2
    assert "not a recovery-bundle report" in result.output


def test_korean_checklist(cli_runner: CliRunner, tmp_path: Path) -> None:
    env = {"DATABASE_URL": None, "INTERNAL_JOB_TOKEN": "t0ken-value"}
    result = cli_runner.invoke(cli, ["run", "--output-dir", str(tmp_path), "--lang", "ko"], env=env)
    assert result.exit_code == 0
    (path,) = tmp_path.glob("*/recovery_bundle_report.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["lang"] == "ko"
    assert report["ops_checklist"][:2] == [
        "사전 점검: DATABASE_URL 누락",
        "사전 점검: INTERNAL_JOB_TOKEN 정상",
    ]


def _intervals(result: BundleResult) -> list[tuple[str, str]]:
    return sorted((s["started_at"], s["finished_at"]) for s in result.steps("reprocess"))


def test_jobs_run_reprocess_steps_concurrently(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim(faults={"reprocess": {"delay": 0.3}})
    ids = [arg for matchup_id in MATCHUP_IDS[:4] for arg in ("--matchup-id", matchup_id)]
    base = ["run", "--mode", "apply", "--config", str(sim.config_path), "--skip-capture", *ids]
    parallel = run_bundle(*base, "--jobs", "4")
    assert parallel.exit_code == 0, parallel.output
    spans = _intervals(parallel)
    assert all(start < spans[0][1] for start, _ in spans[1:])  # all four were running at once
    serial = run_bundle(*base, "--jobs", "1")
    assert serial.exit_code == 0
    spans = _intervals(serial)
    assert all(prev_end <= start for (_, prev_end), (start, _) in itertools.pairwise(spans))
