"""The reprocess command: re-derive one matchup's observation straight in the database.

``python -m recovery_plugin.sim.reprocess --mode dry-run|apply --matchup-id ID
[--poll-fingerprint FP] --output-dir DIR --report PATH [--no-idempotency-check] [--faults PATH]``

Mirrors the real ``reprocess_single_matchup`` script: talks to the database named by
``DATABASE_URL``; writes ``payload.json``, ``before_snapshot.json``, ``after_snapshot.json``,
``after_first_apply_snapshot.json`` (apply) and ``diff.json`` into a sanitised subdirectory of
``--output-dir``, plus the JSON report. Apply bumps the observation's ``updated_at`` and records a
reprocess run; with the idempotency check (default) it applies twice and compares.
Exit 0 on success, 1 when the target is not found / the check fails / an error, 2 on usage.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recovery_plugin.atomic import write_json_atomic
from recovery_plugin.sim import faults as faults_mod
from recovery_plugin.sim import store
from recovery_plugin.sim.clock import utc_now_iso
from recovery_plugin.sim.entry import run_command
from recovery_plugin.sim.faults import Faults
from recovery_plugin.sim.hang import hang_forever
from recovery_plugin.sim.paths import artifact_dirname, safe_child

__all__ = ["main"]

DATABASE_ENV = "DATABASE_URL"


class _Failed(Exception):
    """Stop with a failed report (exit 1)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recovery_plugin.sim.reprocess",
        description="Reprocess one matchup (by id and/or poll fingerprint) in the database.",
    )
    parser.add_argument("--mode", choices=("dry-run", "apply"), default="dry-run")
    parser.add_argument("--matchup-id", default=None, help="matchup id, e.g. 20260603|...|11-000")
    parser.add_argument("--poll-fingerprint", default=None, help="sha256 poll fingerprint")
    parser.add_argument("--output-dir", type=Path, required=True, help="artifact directory")
    parser.add_argument("--report", type=Path, required=True, help="where to write the report")
    parser.add_argument(
        "--no-idempotency-check",
        dest="idempotency_check",
        action="store_false",
        help="apply once instead of twice-and-compare",
    )
    parser.add_argument("--faults", default=None, help=f"faults file (${faults_mod.FAULTS_ENV})")
    return parser


def _delta(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, int]:
    return {key: int(after[key]) - int(before[key]) for key in store.SNAPSHOT_COUNT_KEYS}


def _evidence(first: Mapping[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
    ids_first = set(first["observation_ids"])
    ids_second = set(second["observation_ids"])
    return {
        "new_observation_ids": sorted(ids_second - ids_first),
        "removed_observation_ids": sorted(ids_first - ids_second),
        "count_delta": _delta(first, second),
    }


class _Report:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data: dict[str, Any] = {
            "status": "failed",
            "mode": args.mode,
            "idempotency_check": args.idempotency_check,
            "idempotent_ok": None,
            "target": {
                "matchup_id": args.matchup_id,
                "poll_fingerprint": args.poll_fingerprint,
                "observation_id": None,
                "observation_key": None,
            },
            "artifacts": {
                "output_dir": None,
                "payload": None,
                "before_snapshot": None,
                "after_snapshot": None,
                "after_first_apply_snapshot": None,
                "diff": None,
            },
            "before_snapshot": None,
            "after_snapshot": None,
            "delta_before_after": None,
            "delta_after_first_to_after_second": None,
            "idempotency_evidence": None,
            "apply_results": {"first": None, "second": None},
            "generated_at": None,
            "error": None,
        }

    def write(self, error: str | None = None) -> None:
        if error is not None:
            self.data["status"] = "failed"
            self.data["error"] = error
        self.data["generated_at"] = utc_now_iso()
        report: Path = self.args.report
        report.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(report, self.data)


def _apply_twice(
    conn: sqlite3.Connection, report: _Report, observation_id: int, artifacts: dict[str, Any]
) -> dict[str, Any]:
    """Apply (twice with the idempotency check); returns the final snapshot."""
    args = report.args
    first = store.reprocess_observation(conn, observation_id)
    report.data["apply_results"]["first"] = first.as_dict()
    print(f"[reprocess] apply 1: run_id={first.run_id} status={first.status}", flush=True)
    after_first = store.snapshot(conn, args.matchup_id, args.poll_fingerprint)
    write_json_atomic(Path(artifacts["after_first_apply_snapshot"]), after_first)
    if first.status != "success":
        raise _Failed("first apply processed nothing")
    if not args.idempotency_check:
        return after_first
    second = store.reprocess_observation(conn, observation_id)
    report.data["apply_results"]["second"] = second.as_dict()
    print(f"[reprocess] apply 2: run_id={second.run_id} status={second.status}", flush=True)
    after = store.snapshot(conn, args.matchup_id, args.poll_fingerprint)
    evidence = _evidence(after_first, after)
    report.data["delta_after_first_to_after_second"] = evidence["count_delta"]
    report.data["idempotency_evidence"] = evidence
    ok = (
        second.status == "success"
        and not evidence["new_observation_ids"]
        and not evidence["removed_observation_ids"]
        and not any(evidence["count_delta"].values())
    )
    report.data["idempotent_ok"] = ok
    return after


def _run(args: argparse.Namespace, report: _Report, db_path: Path) -> None:
    name = artifact_dirname(args.mode, args.matchup_id, args.poll_fingerprint)
    out_dir = safe_child(args.output_dir, name)
    with store.open_db(db_path) as conn:
        targets = store.find_observations(conn, args.matchup_id, args.poll_fingerprint)
        if not targets:
            raise _Failed("target not found: no observation matches the matchup id/fingerprint")
        target = targets[0]
        report.data["target"].update(
            poll_fingerprint=target.poll_fingerprint,
            observation_id=target.observation_id,
            observation_key=target.observation_key,
        )
        print(f"[reprocess] target observation {target.observation_id} ({args.mode})", flush=True)
        out_dir.mkdir(parents=True, exist_ok=True)
        artifacts: dict[str, Any] = {
            "output_dir": str(out_dir),
            "payload": str(out_dir / "payload.json"),
            "before_snapshot": str(out_dir / "before_snapshot.json"),
            "after_snapshot": str(out_dir / "after_snapshot.json"),
            "after_first_apply_snapshot": (
                str(out_dir / "after_first_apply_snapshot.json") if args.mode == "apply" else None
            ),
            "diff": str(out_dir / "diff.json"),
        }
        report.data["artifacts"] = artifacts
        matchup = store.get_matchup(conn, target.matchup_id)
        write_json_atomic(
            Path(artifacts["payload"]),
            {
                "generated_at": utc_now_iso(),
                "mode": args.mode,
                "target": report.data["target"],
                "matchup": None if matchup is None else matchup.payload,
            },
        )
        before = store.snapshot(conn, args.matchup_id, args.poll_fingerprint)
        report.data["before_snapshot"] = before
        write_json_atomic(Path(artifacts["before_snapshot"]), before)
        if args.mode == "apply":
            after = _apply_twice(conn, report, target.observation_id, artifacts)
        else:
            after = store.snapshot(conn, args.matchup_id, args.poll_fingerprint)
    report.data["after_snapshot"] = after
    report.data["delta_before_after"] = _delta(before, after)
    write_json_atomic(Path(artifacts["after_snapshot"]), after)
    write_json_atomic(
        Path(artifacts["diff"]),
        {
            "delta_before_after": report.data["delta_before_after"],
            "delta_after_first_to_after_second": report.data["delta_after_first_to_after_second"],
            "idempotency_evidence": report.data["idempotency_evidence"],
            "latest_updated_at": {
                "before": before["latest_updated_at"],
                "after": after["latest_updated_at"],
            },
        },
    )
    if report.data["idempotent_ok"] is False:
        raise _Failed("idempotency check failed: the second apply changed the data")
    report.data["status"] = "success"


def _execute(args: argparse.Namespace, faults_path: Path | None, all_faults: Faults) -> int:
    faults = all_faults.reprocess
    if faults.delay:
        time.sleep(faults.delay)
    if faults_path is not None and args.matchup_id in faults.hang_ids:
        hang_forever(faults_mod.hang_pid_path(faults_path, "reprocess"))
    report = _Report(args)
    url = os.environ.get(DATABASE_ENV, "")
    if not url:
        print(f"reprocess: {DATABASE_ENV} is not set", file=sys.stderr)
        report.write(f"{DATABASE_ENV} is not set")
        return 1
    try:
        db_path = store.parse_database_url(url)
        if args.matchup_id in faults.fail_ids:
            raise _Failed(f"injected failure for matchup {args.matchup_id!r}")
        _run(args, report, db_path)
    except (_Failed, store.StoreError, sqlite3.Error, ValueError) as exc:
        print(f"[reprocess] FAILED: {exc}", file=sys.stderr, flush=True)
        report.write(str(exc))
        return 1
    report.write()
    print(f"[reprocess] success; report {args.report}", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.matchup_id is None and args.poll_fingerprint is None:
        parser.error("one of --matchup-id or --poll-fingerprint is required")
    return run_command("reprocess", _execute, args)


if __name__ == "__main__":
    sys.exit(main())
