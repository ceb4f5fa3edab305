"""The re-apply command of a guide: every id still to do, whatever their number, and the
operator's batching flags (``--canary``, ``--batch-size``, ``--max-failures``)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.ids import read_matchup_file
from recovery_plugin.names import IDS_TO_REDO_NAME
from recovery_plugin.report.checklist import (
    MAX_REAPPLY_INLINE_IDS,
    ROLLBACK_GUIDE,
    build_checklist,
    write_ids_to_redo,
)

FAST = {"backoff": 0.01, "max_backoff": 0.05, "kill_grace": 0.3, "retries": 0}


def _payload(run_dir: Path, ids: list[str], **extra: Any) -> dict[str, Any]:
    steps = [{"name": "ingest", "status": "failed", "exit_code": 1, "attempts": [{}]}]
    steps += [{"name": "reprocess", "matchup_id": i, "status": "skipped"} for i in ids]
    return {
        "mode": "apply",
        "api_base": "http://127.0.0.1:8100",
        "output_dir": str(run_dir.parent),
        "run_dir": str(run_dir),
        "matchup_ids": ids,
        "ids_to_redo": ids,
        "steps": steps,
        **extra,
    }


def _reapply(lines: list[str]) -> tuple[str, list[str]]:
    (guide,) = [line for line in lines if line.startswith(f"{ROLLBACK_GUIDE} reprocess")]
    return guide, shlex.split(guide.split("then re-apply only them: ", 1)[1])


def test_five_thousand_ids_to_redo_are_read_from_a_file_in_the_run_directory(
    tmp_path: Path,
) -> None:
    ids = [f"20260603|기초자치단체장|{n:05d}" for n in range(5000)]
    write_ids_to_redo(tmp_path, ids)

    guide, argv = _reapply(build_checklist(_payload(tmp_path, ids)))

    assert "--matchup-id" not in argv
    id_file = Path(argv[argv.index("--matchup-file") + 1])
    assert id_file == tmp_path / IDS_TO_REDO_NAME
    assert id_file.read_text(encoding="utf-8").splitlines() == ids  # one per line
    assert read_matchup_file(id_file) == ids
    assert argv[argv.index("--output-dir") + 1] == str(tmp_path.parent)
    assert f"recovery-bundle run --resume {tmp_path}" in guide
    assert len(guide) < 10_000  # the prose names the first ids and how many more
    assert f"... and {5000 - MAX_REAPPLY_INLINE_IDS} more" in guide


def test_ids_that_cannot_stand_on_a_line_are_written_as_an_escaped_json_list(
    tmp_path: Path,
) -> None:
    ids = [f"m-{n}" for n in range(60)] + ["#not-a-comment", " padded ", "esc\x1b[31m", "a\u202eb"]
    write_ids_to_redo(tmp_path, ids)

    _, argv = _reapply(build_checklist(_payload(tmp_path, ids)))

    id_file = Path(argv[argv.index("--matchup-file") + 1])
    text = id_file.read_text(encoding="utf-8")
    assert text.isascii() and "\x1b" not in text  # safe to cat
    assert read_matchup_file(id_file) == ids


def test_a_missing_id_file_means_the_ids_are_listed_inline(tmp_path: Path) -> None:
    ids = [f"m-{n}" for n in range(60)]  # too many, but no file was written (a full disk)

    _, argv = _reapply(build_checklist(_payload(tmp_path, ids)))

    assert "--matchup-file" not in argv
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--matchup-id"] == ids


def _batches(canary_verdict: str) -> dict[str, Any]:
    return {
        "canary": "2",
        "batch_size": "10%",
        "max_failures": "3",
        "stopped_after": 1,
        "stop_reason": "skipped: canary batch 1 failed (its checks failed)",
        "ids_left": ["c"],
        "items": [
            {"index": 1, "kind": "canary", "ids": ["a", "b"], "verdict": canary_verdict},
            {"index": 2, "kind": "batch", "ids": ["c"], "verdict": "skipped"},
        ],
    }


def test_a_failed_canarys_commands_keep_every_batching_flag(tmp_path: Path) -> None:
    lines = build_checklist(_payload(tmp_path, ["a", "b", "c"], batches=_batches("failed")))

    _, argv = _reapply(lines)
    assert argv[argv.index("--canary") + 1] == "2"
    assert argv[argv.index("--batch-size") + 1] == "10%"
    assert argv[argv.index("--max-failures") + 1] == "3"
    (resume,) = [line for line in lines if line.startswith("resume-guide:")]
    assert resume.endswith(
        f"resume with: recovery-bundle run --resume {tmp_path}"
        " --canary 2 --batch-size 10% --max-failures 3"
    )


def test_a_passed_canary_is_not_repeated(tmp_path: Path) -> None:
    lines = build_checklist(_payload(tmp_path, ["a", "b", "c"], batches=_batches("passed")))

    _, argv = _reapply(lines)
    assert "--canary" not in argv
    assert argv[argv.index("--batch-size") + 1] == "10%"


def test_sixty_ids_left_by_a_failed_ingest_are_reapplied_from_the_id_file(
    recovery_sim: RecoverySim, run_bundle: RunBundle, tmp_path: Path
) -> None:
    ids = [f"20260603|기초자치단체장|redo-{n:02d}" for n in range(60)]
    sim = recovery_sim(faults={"ingest": {"always_fail": True}}, steps={"ingest": FAST})
    id_list = tmp_path / "ids.txt"
    id_list.write_text("\n".join(ids) + "\n", encoding="utf-8")
    out = tmp_path / "runs"
    apply = ["run", "--mode", "apply", "--config", str(sim.config_path), "--output-dir", str(out)]

    result = run_bundle(*apply, "--matchup-file", str(id_list), "--skip-capture")

    assert result.exit_code == 1, result.output
    assert result.report["ids_to_redo"] == ids
    guide, argv = _reapply(result.checklist)
    assert "--matchup-id" not in argv
    assert result.run_dir is not None
    assert argv[argv.index("--matchup-file") + 1] == str(result.run_dir / IDS_TO_REDO_NAME)
    assert argv[argv.index("--output-dir") + 1] == str(out)
    assert f"recovery-bundle run --resume {result.run_dir}" in guide
    assert (result.run_dir / IDS_TO_REDO_NAME).read_text(encoding="utf-8").splitlines() == ids

    # The command runs as it is (the fault gone): a dry-run plans a reprocess for each id.
    sim.set_faults(None)
    argv[argv.index("apply")] = "dry-run"
    planned = run_bundle(*argv[1:])
    assert planned.exit_code == 0, planned.output
    assert [s["matchup_id"] for s in planned.steps("reprocess")] == ids
