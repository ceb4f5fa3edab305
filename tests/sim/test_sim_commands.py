"""The ingest and reprocess commands as subprocesses: exit codes, reports, injected failures."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID, MATCHUP_IDS
from recovery_plugin.sim.harness import SimulatedService, free_port

ATTEMPT_KEYS = {
    "attempt",
    "http_status",
    "job_status",
    "failure_class",
    "failure_type",
    "retryable",
    "request_timeout_seconds",
    "error",
    "detail",
    "cause_code",
    "started_at",
    "finished_at",
    "duration_seconds",
    "next_backoff_seconds",
}
INGEST_REPORT_KEYS = {
    "success",
    "attempts",
    "run_ids",
    "started_at",
    "finished_at",
    "elapsed_seconds",
    "failure_class",
    "failure_type",
    "cause_code",
    "failure_reason",
}
REPROCESS_REPORT_KEYS = {
    "status",
    "mode",
    "idempotency_check",
    "idempotent_ok",
    "target",
    "artifacts",
    "before_snapshot",
    "after_snapshot",
    "delta_before_after",
    "delta_after_first_to_after_second",
    "idempotency_evidence",
    "apply_results",
    "generated_at",
    "error",
}
ARTIFACT_FILES = {
    "payload.json",
    "before_snapshot.json",
    "after_snapshot.json",
    "after_first_apply_snapshot.json",
    "diff.json",
}


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _updated_at(seeded_sim: SimulatedService, matchup_id: str) -> str:
    conn = sqlite3.connect(seeded_sim.db_path)
    try:
        row = conn.execute(
            "SELECT updated_at FROM observations WHERE matchup_id = ?", (matchup_id,)
        ).fetchone()
    finally:
        conn.close()
    return str(row[0])


# --- ingest -------------------------------------------------------------------------------------


def test_ingest_success_report_shape(seeded_sim: SimulatedService, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    result = seeded_sim.run_ingest(report, "--max-retries", "2", timeout=30)
    assert result.returncode == 0, result.stderr
    data = _load(report)
    assert set(data) == INGEST_REPORT_KEYS
    assert data["success"] is True and len(data["attempts"]) == 1
    assert set(data["attempts"][0]) == ATTEMPT_KEYS
    assert data["attempts"][0]["http_status"] == 200
    assert data["attempts"][0]["job_status"] == "success"
    assert data["run_ids"] == [data["run_ids"][0]] and isinstance(data["run_ids"][0], int)


def test_ingest_bad_token_exits_1(seeded_sim: SimulatedService, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    dead = tmp_path / "dead"
    result = seeded_sim.run_ingest(
        report,
        "--max-retries",
        "3",
        "--dead-letter-dir",
        str(dead),
        env={"INTERNAL_JOB_TOKEN": "wrong"},
        timeout=30,
    )
    assert result.returncode == 1
    data = _load(report)
    assert data["success"] is False and len(data["attempts"]) == 1  # 401 is not retried
    assert data["attempts"][0]["http_status"] == 401
    assert (data["failure_class"], data["cause_code"]) == ("auth", "http_401")
    assert "invalid token" in data["failure_reason"]
    letters = list(dead.glob("ingest_dead_letter_*.json"))
    assert len(letters) == 1
    assert _load(letters[0])["payload"]["records"]


def test_ingest_missing_token_exits_1(seeded_sim: SimulatedService, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    result = seeded_sim.run_ingest(report, env={"INTERNAL_JOB_TOKEN": ""}, timeout=30)
    assert result.returncode == 1
    assert "INTERNAL_JOB_TOKEN" in result.stderr
    assert _load(report)["cause_code"] == "missing_token"


def test_ingest_retries_connection_errors(seeded_sim: SimulatedService, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    argv = [
        sys.executable, "-m", "recovery_plugin.sim.ingest",
        "--api-base", f"http://127.0.0.1:{free_port()}", "--input", str(tmp_path / "in.json"),
        "--report", str(report), "--max-retries", "2", "--backoff-seconds", "0.01",
    ]  # fmt: skip
    (tmp_path / "in.json").write_text('{"records": []}', encoding="utf-8")
    result = subprocess.run(
        argv, env=seeded_sim.command_env(), capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 1
    data = _load(report)
    assert len(data["attempts"]) == 3
    assert data["attempts"][0]["next_backoff_seconds"] == 0.01
    assert data["attempts"][1]["next_backoff_seconds"] == 0.02
    assert data["attempts"][2]["next_backoff_seconds"] is None
    assert data["failure_class"] == "network"


def test_ingest_fail_times_uses_the_state_counter(
    seeded_sim: SimulatedService, tmp_path: Path
) -> None:
    seeded_sim.set_faults({"ingest": {"fail_times": 1}})
    first = seeded_sim.run_ingest(tmp_path / "1.json", timeout=30)
    assert first.returncode == 1
    data = _load(tmp_path / "1.json")
    assert (data["failure_class"], data["cause_code"]) == ("injected", "injected_fail_times")
    assert data["attempts"][0]["http_status"] is None
    state = _load(seeded_sim.faults_path.with_name("faults.json.state.json"))
    assert state["ingest"]["invocations"] == 1
    second = seeded_sim.run_ingest(tmp_path / "2.json", timeout=30)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _load(tmp_path / "2.json")["success"] is True


def test_ingest_exit_code_and_secret(seeded_sim: SimulatedService, tmp_path: Path) -> None:
    seeded_sim.set_faults({"ingest": {"exit_code": 3, "print_secret": True}})
    result = seeded_sim.run_ingest(tmp_path / "r.json", timeout=30)
    assert result.returncode == 3
    assert seeded_sim.token in result.stdout
    assert _load(tmp_path / "r.json")["cause_code"] == "injected_exit_code"
    seeded_sim.set_faults({"ingest": {"always_fail": True}})
    for _ in range(2):
        assert seeded_sim.run_ingest(tmp_path / "r.json", timeout=30).returncode == 1


def test_ingest_invalid_faults_file(seeded_sim: SimulatedService, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"ingest": {"fail_tmes": 1}}', encoding="utf-8")
    result = seeded_sim.run_ingest(tmp_path / "r.json", "--faults", str(bad), timeout=30)
    assert result.returncode == 1
    assert "unknown key 'ingest.fail_tmes'" in result.stderr


# --- reprocess ----------------------------------------------------------------------------------


def test_reprocess_apply_changes_updated_at(seeded_sim: SimulatedService, tmp_path: Path) -> None:
    before = _updated_at(seeded_sim, DEFAULT_MATCHUP_ID)
    report = tmp_path / "report.json"
    result = seeded_sim.run_reprocess(tmp_path / "out", report, timeout=30)
    assert result.returncode == 0, result.stderr
    data = _load(report)
    assert set(data) == REPROCESS_REPORT_KEYS
    assert data["status"] == "success" and data["mode"] == "apply"
    assert data["idempotency_check"] is True and data["idempotent_ok"] is True
    assert data["target"]["matchup_id"] == DEFAULT_MATCHUP_ID
    assert data["target"]["observation_id"] == 1
    assert len(data["target"]["poll_fingerprint"]) == 64
    first, second = data["apply_results"]["first"], data["apply_results"]["second"]
    assert first["status"] == second["status"] == "success"
    assert second["run_id"] == first["run_id"] + 1
    assert set(data["delta_before_after"].values()) == {0}
    assert data["idempotency_evidence"]["new_observation_ids"] == []
    assert data["before_snapshot"]["latest_updated_at"] == before
    after = _updated_at(seeded_sim, DEFAULT_MATCHUP_ID)
    assert after > before and data["after_snapshot"]["latest_updated_at"] == after
    out_dir = Path(data["artifacts"]["output_dir"])
    assert out_dir.parent == (tmp_path / "out").resolve()
    assert {p.name for p in out_dir.iterdir()} == ARTIFACT_FILES
    for key in ("payload", "before_snapshot", "after_snapshot", "diff"):
        assert Path(data["artifacts"][key]).is_file()


def test_reprocess_dry_run_changes_nothing(seeded_sim: SimulatedService, tmp_path: Path) -> None:
    mid = MATCHUP_IDS[-1]  # the id with a space and '+'
    before = _updated_at(seeded_sim, mid)
    report = tmp_path / "report.json"
    result = seeded_sim.run_reprocess(
        tmp_path / "out", report, mode="dry-run", matchup_id=mid, timeout=30
    )
    assert result.returncode == 0, result.stderr
    data = _load(report)
    assert data["status"] == "success" and data["mode"] == "dry-run"
    assert data["apply_results"] == {"first": None, "second": None}
    assert data["artifacts"]["after_first_apply_snapshot"] is None
    assert _updated_at(seeded_sim, mid) == before
    out_dir = Path(data["artifacts"]["output_dir"])
    assert {p.name for p in out_dir.iterdir()} == ARTIFACT_FILES - {
        "after_first_apply_snapshot.json"
    }


def test_reprocess_by_fingerprint_without_check(
    seeded_sim: SimulatedService, tmp_path: Path
) -> None:
    conn = sqlite3.connect(seeded_sim.db_path)
    try:
        (fingerprint,) = conn.execute(
            "SELECT poll_fingerprint FROM observations WHERE matchup_id = ?", (MATCHUP_IDS[1],)
        ).fetchone()
    finally:
        conn.close()
    report = tmp_path / "report.json"
    result = seeded_sim.run_reprocess(
        tmp_path / "out",
        report,
        "--poll-fingerprint",
        fingerprint,
        "--no-idempotency-check",
        matchup_id=None,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    data = _load(report)
    assert data["target"]["matchup_id"] is None
    assert data["target"]["poll_fingerprint"] == fingerprint
    assert data["idempotent_ok"] is None and data["apply_results"]["second"] is None


def test_reprocess_unknown_id_exits_1(seeded_sim: SimulatedService, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = seeded_sim.run_reprocess(
        tmp_path / "out", report, matchup_id="../../x|y/z", timeout=30
    )
    assert result.returncode == 1
    data = _load(report)
    assert data["status"] == "failed" and "not found" in data["error"]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_reprocess_without_target_exits_2(seeded_sim: SimulatedService, tmp_path: Path) -> None:
    result = seeded_sim.run_reprocess(tmp_path / "out", tmp_path / "r.json", matchup_id=None)
    assert result.returncode == 2
    assert "--matchup-id" in result.stderr and "usage:" in result.stderr


def test_reprocess_needs_database_url(seeded_sim: SimulatedService, tmp_path: Path) -> None:
    result = seeded_sim.run_reprocess(
        tmp_path / "out", tmp_path / "r.json", env={"DATABASE_URL": ""}
    )
    assert result.returncode == 1 and "DATABASE_URL" in result.stderr
    bad = seeded_sim.run_reprocess(
        tmp_path / "out", tmp_path / "r.json", env={"DATABASE_URL": "postgresql://x/y"}
    )
    assert bad.returncode == 1 and "sqlite:////" in bad.stderr


def test_reprocess_fail_ids(seeded_sim: SimulatedService, tmp_path: Path) -> None:
    seeded_sim.set_faults({"reprocess": {"fail_ids": [DEFAULT_MATCHUP_ID]}})
    before = _updated_at(seeded_sim, DEFAULT_MATCHUP_ID)
    report = tmp_path / "report.json"
    result = seeded_sim.run_reprocess(tmp_path / "out", report, timeout=30)
    assert result.returncode == 1
    assert _load(report)["status"] == "failed"
    assert _updated_at(seeded_sim, DEFAULT_MATCHUP_ID) == before
    other = seeded_sim.run_reprocess(
        tmp_path / "out", tmp_path / "o.json", matchup_id=MATCHUP_IDS[2], timeout=30
    )
    assert other.returncode == 0
