"""The capture file (``api_capture.json`` and its baseline twin): writing it, reading it back.

Only the standard library at import: the report views read capture files without httpx.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recovery_plugin.http.batch import Readiness
    from recovery_plugin.http.fetch import Capture

__all__ = ["read_captures", "write_capture_file"]


def write_capture_file(
    path: Path, api_base: str, captures: Iterable[Capture], readiness: Readiness | None = None
) -> None:
    """Write the capture file atomically: one capture per line (fast to write, easy to grep)."""
    from recovery_plugin.atomic import write_text_atomic

    head = json.dumps(
        {"api_base": api_base, "readiness": readiness.to_dict() if readiness else None},
        ensure_ascii=False,
    )
    lines = [json.dumps(c.to_dict(), ensure_ascii=False, default=str) for c in captures]
    write_text_atomic(path, head[:-1] + ', "captures": [\n' + ",\n".join(lines) + "\n]}\n")


def read_captures(path: Path) -> list[dict[str, Any]]:
    """The captures in the file at ``path``; none when it is missing, unreadable or not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    captures = data.get("captures") if isinstance(data, dict) else None
    if not isinstance(captures, list):
        return []
    return [c for c in captures if isinstance(c, dict)]
