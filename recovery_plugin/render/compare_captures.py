"""Comparing two runs' captured responses (``api_capture.json``), value by value.

Captures are matched by endpoint and matchup id. Bodies are compared leaf by leaf: every
changed value with its path (``candidates[0].support``) and its old and new value as JSON
text, cut short; at most :data:`MAX_CHANGES_PER_ENDPOINT` per endpoint, the rest counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from recovery_plugin.errors import RecoveryError
from recovery_plugin.names import CAPTURE_NAME
from recovery_plugin.records import dataclass

__all__ = [
    "MAX_CHANGES_PER_ENDPOINT",
    "MAX_VALUE_CHARS",
    "CaptureKey",
    "EndpointChange",
    "ValueChange",
    "captures_by_key",
    "endpoint_changes",
    "union",
]

MAX_VALUE_CHARS = 120
MAX_CHANGES_PER_ENDPOINT = 50
_MISSING: Any = object()


@dataclass(frozen=True)
class ValueChange:
    path: str
    old: str | None
    """Run A's value as JSON text, cut to :data:`MAX_VALUE_CHARS` (ending in ``…``); None when
    the path is only in run B."""
    new: str | None
    kind: str = "changed"
    """``changed``, ``added`` (only in B) or ``removed`` (only in A)."""


@dataclass(frozen=True)
class EndpointChange:
    endpoint: str
    matchup_id: str | None
    status_a: int | None
    status_b: int | None
    problem_a: str | None
    """A transport or decoding error of run A's capture (``timeout: ...``), if any."""
    problem_b: str | None
    changes: list[ValueChange] = field(default_factory=list)
    more_changes: int = 0
    """Changed values past :data:`MAX_CHANGES_PER_ENDPOINT`, counted but not listed."""
    only_in: str | None = None
    """``a`` or ``b`` when only one run captured this endpoint."""


def union(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> list[Any]:
    """A's keys in A's order, then B's new ones in B's order."""
    return list(a) + [key for key in b if key not in a]


CaptureKey = tuple[str, str | None]


def captures_by_key(run_dir: Path, argument: str) -> dict[CaptureKey, Mapping[str, Any]] | None:
    """The run's captures by (endpoint, matchup id); None when it made none (a dry-run)."""
    path = run_dir / CAPTURE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        captures = data["captures"]
        return {(str(c["name"]), c.get("matchup_id")): c for c in captures}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a capture file"
        raise RecoveryError(f"compare {argument}: unreadable {path}: {reason}") from None


def _problem(capture: Mapping[str, Any]) -> str | None:
    problem = capture.get("error") or capture.get("decode_error")
    if not isinstance(problem, Mapping):
        return None
    return f"{problem.get('kind')}: {problem.get('message')}"


def endpoint_changes(
    captures_a: Mapping[CaptureKey, Mapping[str, Any]],
    captures_b: Mapping[CaptureKey, Mapping[str, Any]],
) -> list[EndpointChange]:
    entries = []
    for key in union(captures_a, captures_b):
        old, new = captures_a.get(key), captures_b.get(key)
        if old is None or new is None:
            entries.append(
                EndpointChange(
                    endpoint=key[0],
                    matchup_id=key[1],
                    status_a=old.get("status") if old else None,
                    status_b=new.get("status") if new else None,
                    problem_a=_problem(old) if old else None,
                    problem_b=_problem(new) if new else None,
                    only_in="a" if new is None else "b",
                    changes=[],
                )
            )
            continue
        values = list(_diff(old.get("body"), new.get("body"), ""))
        status_a, status_b = old.get("status"), new.get("status")
        problem_a, problem_b = _problem(old), _problem(new)
        if values or status_a != status_b or problem_a != problem_b:
            entries.append(
                EndpointChange(
                    endpoint=key[0],
                    matchup_id=key[1],
                    status_a=status_a,
                    status_b=status_b,
                    problem_a=problem_a,
                    problem_b=problem_b,
                    changes=values[:MAX_CHANGES_PER_ENDPOINT],
                    more_changes=max(0, len(values) - MAX_CHANGES_PER_ENDPOINT),
                )
            )
    return entries


def _diff(old: Any, new: Any, path: str) -> Iterator[ValueChange]:
    """Every leaf that differs, depth first: objects by key, arrays by index."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in union(old, new):
            where = _join(path, str(key))
            yield from _diff(old.get(key, _MISSING), new.get(key, _MISSING), where)
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            before = old[index] if index < len(old) else _MISSING
            after = new[index] if index < len(new) else _MISSING
            yield from _diff(before, after, f"{path}[{index}]")
    elif old is _MISSING:
        yield ValueChange(path or "(body)", None, _short(new), kind="added")
    elif new is _MISSING:
        yield ValueChange(path or "(body)", _short(old), None, kind="removed")
    elif old != new or type(old) is not type(new):
        yield ValueChange(path or "(body)", _short(old), _short(new))


def _join(path: str, key: str) -> str:
    plain = key.replace("_", "").replace("-", "").isalnum()
    if plain:
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _short(value: Any) -> str:
    """The value as JSON text, cut to :data:`MAX_VALUE_CHARS` (ending in ``…``)."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
