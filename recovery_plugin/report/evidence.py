"""Before/after evidence: what each endpoint answered before the steps and after them.

The diff is compact on purpose — keys added, removed and changed (dotted paths into nested
objects, old and new values for scalars) — so an operator sees at a glance whether a matchup's
data really changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recovery_plugin.http.capture_file import judged_captures, read_captures

# Re-exported until run/pipeline.py and tests/test_reliability.py import it from names.
from recovery_plugin.names import BEFORE_CAPTURE_NAME as BEFORE_NAME

__all__ = ["BEFORE_NAME", "diff_bodies", "diff_capture_files"]

_MAX_DEPTH = 3


def _describe(value: Any) -> Any:
    if isinstance(value, list):
        return f"list[{len(value)}]"
    if isinstance(value, dict):
        return f"object[{len(value)}]"
    return value


def diff_bodies(before: Any, after: Any, prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """``{"added": [...], "removed": [...], "changed": {path: {"before": v, "after": v}}}``."""
    added: list[str] = []
    removed: list[str] = []
    changed: dict[str, Any] = {}
    if isinstance(before, Mapping) and isinstance(after, Mapping) and depth < _MAX_DEPTH:
        for key in after:
            if key not in before:
                added.append(f"{prefix}{key}")
        for key in before:
            if key not in after:
                removed.append(f"{prefix}{key}")
        for key in before:
            if key in after and before[key] != after[key]:
                inner = diff_bodies(before[key], after[key], f"{prefix}{key}.", depth + 1)
                added += inner["added"]
                removed += inner["removed"]
                changed.update(inner["changed"])
    elif before != after:
        changed[prefix.rstrip(".") or "(body)"] = {
            "before": _describe(before),
            "after": _describe(after),
        }
    return {"added": added, "removed": removed, "changed": changed}


def _load(path: Path) -> dict[tuple[Any, Any], dict[str, Any]]:
    return judged_captures(read_captures(path))


def diff_capture_files(before_path: Path, after_path: Path) -> list[dict[str, Any]]:
    """One entry per endpoint captured after the steps, compared with its baseline."""
    before = _load(before_path)
    after = _load(after_path)
    entries = []
    for key, now in after.items():
        then = before.get(key)
        entry: dict[str, Any] = {
            "endpoint": key[0],
            "matchup_id": key[1],
            "status_before": then.get("status") if then else None,
            "status_after": now.get("status"),
        }
        if then is None:
            entry.update(added=[], removed=[], changed={}, note="no baseline capture")
        else:
            entry.update(diff_bodies(then.get("body"), now.get("body")))
        entry["changed_any"] = bool(
            entry["added"]
            or entry["removed"]
            or entry["changed"]
            or entry["status_before"] != entry["status_after"]
        )
        entries.append(entry)
    return entries
