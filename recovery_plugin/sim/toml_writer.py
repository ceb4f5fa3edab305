"""A tiny TOML writer for the runbook file: scalars, lists, nested tables, arrays of inline tables."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["dumps"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=True)


def _value(value: object, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: TOML writer refuses non-finite float {value!r}")
        return repr(value)
    if isinstance(value, str):
        # A JSON string with ASCII escapes is a valid TOML basic string.
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v, f"{where}[]") for v in value) + "]"
    if isinstance(value, Mapping):  # an inline table: how an array of tables is written here
        return (
            "{"
            + ", ".join(f"{_key(str(k))} = {_value(v, f'{where}.{k}')}" for k, v in value.items())
            + "}"
        )
    raise ValueError(f"{where}: cannot write {type(value).__name__} to TOML")


def _table(lines: list[str], header: str | None, table: Mapping[str, Any]) -> None:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, Mapping)]
    tables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    if header is not None and (scalars or not tables):
        if lines:
            lines.append("")
        lines.append(f"[{header}]")
    for key, value in scalars:
        lines.append(f"{_key(str(key))} = {_value(value, str(key))}")
    for key, value in tables:
        name = _key(str(key)) if header is None else f"{header}.{_key(str(key))}"
        _table(lines, name, value)


def dumps(document: Mapping[str, Any]) -> str:
    """Serialise ``document``: top-level scalars first, then ``[table]`` / ``[table.sub]`` blocks."""
    lines: list[str] = []
    _table(lines, None, document)
    return "\n".join(lines) + "\n"
