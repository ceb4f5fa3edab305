"""What a guide's re-apply command carries: every id still to do (inline, or from
``ids_to_redo.txt`` when there are too many) and the operator's batching flags."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recovery_plugin.ids import check_matchup_id, printable
from recovery_plugin.names import IDS_TO_REDO_NAME

__all__ = [
    "MAX_REAPPLY_INLINE_IDS",
    "batch_flags",
    "inline_ids",
    "redo_file_text",
    "redo_flags",
    "write_ids_to_redo",
]

MAX_REAPPLY_INLINE_IDS = 50
"""Above this many ids, a re-apply command reads them from ``ids_to_redo.txt`` in the run
directory (written by :func:`write_ids_to_redo`) instead of listing each as ``--matchup-id``."""


def _line_safe(matchup_id: str) -> bool:
    """``matchup_id`` reads back from its own line of a ``--matchup-file`` unchanged, and shows
    in a terminal as it is (no control, bidi or invisible character)."""
    return (
        matchup_id == matchup_id.strip()
        and not matchup_id.startswith(("#", "["))
        and len(matchup_id.splitlines()) == 1
        and check_matchup_id(matchup_id) is None
        and printable(matchup_id) == matchup_id
    )


def redo_file_text(ids: Sequence[str]) -> str:
    """One id per line; if one of them cannot stand on a line as it is, a JSON list with every
    non-ASCII character escaped (``--matchup-file`` reads both, and either is safe to ``cat``)."""
    if all(_line_safe(i) for i in ids):
        return "".join(f"{i}\n" for i in ids)
    return json.dumps(list(ids), ensure_ascii=True, indent=0) + "\n"


def write_ids_to_redo(run_dir: Path, ids: Sequence[str]) -> Path | None:
    """Write ``ids_to_redo.txt`` when a re-apply command could not list ``ids`` inline; ``None``
    when not needed or not possible (then the command lists them: long, but whole)."""
    if len(ids) <= MAX_REAPPLY_INLINE_IDS:
        return None
    from recovery_plugin.atomic import write_text_atomic

    path = run_dir / IDS_TO_REDO_NAME
    try:
        write_text_atomic(path, redo_file_text(ids))
    except OSError:
        return None
    return path


def inline_ids(ids: Sequence[str]) -> list[str]:
    flags: list[str] = []
    for matchup_id in ids:
        flags += ["--matchup-id", matchup_id]
    return flags


def redo_flags(ids: list[str], report: Mapping[str, Any]) -> list[str]:
    """Every id still to do: inline up to the cap, else the run directory's ``ids_to_redo.txt``
    (only if it is there, holding exactly them: a guide never names a file that is not)."""
    run_dir = report.get("run_dir")
    if len(ids) > MAX_REAPPLY_INLINE_IDS and run_dir:
        path = Path(str(run_dir)) / IDS_TO_REDO_NAME
        try:
            written = path.read_text(encoding="utf-8")
        except OSError:
            written = None
        if written == redo_file_text(ids):
            return ["--matchup-file", str(path)]
    return inline_ids(ids)


def batch_flags(batches: Mapping[str, Any] | None) -> list[str]:
    """The operator's ``--canary``/``--batch-size``/``--max-failures``, for a command that re-runs
    ids of a batched run. The canary is kept unless it passed: a failed (or never judged) canary
    must prove the fix on a few ids again before the rest run."""
    if not batches:
        return []
    canary_passed = any(
        b.get("kind") == "canary" and b.get("verdict") == "passed" for b in batches.get("items", [])
    )
    flags: list[str] = []
    for key in ("canary", "batch_size", "max_failures"):
        if batches.get(key) is None or (key == "canary" and canary_passed):
            continue
        flags += [f"--{key.replace('_', '-')}", str(batches[key])]
    return flags
