"""Finding and loading a runbook file: ``--config``, ``recovery.toml``, or ``pyproject.toml``.

``tomllib`` is imported only once a file must be parsed, so a run without a config file never
pays for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from recovery_plugin.config.notify import WebhookSpec, parse_notify
from recovery_plugin.config.profile import default_runbook
from recovery_plugin.config.schema import Runbook
from recovery_plugin.errors import ConfigError
from recovery_plugin.validate import ValidationError, parse

__all__ = ["find_config_file", "load_runbook"]

PYPROJECT_TABLE = "recovery_bundle"


def find_config_file(cwd: Path) -> Path | None:
    """``recovery.toml`` in ``cwd``, else ``pyproject.toml`` when it has ``[tool.recovery_bundle]``."""
    candidate = cwd / "recovery.toml"
    if candidate.is_file():
        return candidate
    pyproject = cwd / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if PYPROJECT_TABLE not in text:  # not ours: no need to import tomllib and parse it
        return None
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None  # not ours to judge; only an explicit --config is validated strictly
    if isinstance(data.get("tool"), dict) and PYPROJECT_TABLE in data["tool"]:
        return pyproject
    return None


def load_runbook(path: Path | None) -> Runbook:
    """The default profile, overridden by the TOML file at ``path`` when given."""
    base = default_runbook()
    if path is None:
        return _share_openapi(base)
    label, data = _read_table(path)
    # [notify] has its own parser (webhooks with {env:NAME} references), errors naming the key.
    notify: tuple[WebhookSpec, ...] = ()
    has_notify = isinstance(data, dict) and "notify" in data
    if has_notify:
        notify = parse_notify(data["notify"], label)
        data = {key: value for key, value in data.items() if key != "notify"}
    _rename_assert_keys(data, label)
    try:
        runbook = parse(Runbook, data, source=label, base=base)
    except ValidationError as exc:
        raise ConfigError(_ASSERTIONS_WORD.sub(ASSERT_KEY, str(exc))) from None
    steps = {name: replace(spec, name=name) for name, spec in runbook.steps.items()}
    keys = _dotted_keys(data) | ({"notify"} if has_notify else set())
    runbook = replace(runbook, steps=steps, notify=notify, source=label, path=path, file_keys=keys)
    return _share_openapi(runbook)


ASSERT_KEY = "assert"
"""The file's key for an endpoint's assertions; a Python keyword, so the field is ``assertions``."""
_ASSERTIONS_WORD = re.compile(r"\bassertions\b")


def _rename_assert_keys(data: Any, label: str) -> None:
    endpoints = data.get("endpoints") if isinstance(data, dict) else None
    if not isinstance(endpoints, list):
        return
    for i, table in enumerate(endpoints):
        if not isinstance(table, dict):
            continue
        if "assertions" in table:
            raise ConfigError(
                f"{label}: endpoints[{i}].assertions: unknown key (did you mean assert?)"
            )
        if ASSERT_KEY in table:
            table["assertions"] = table.pop(ASSERT_KEY)


def _share_openapi(runbook: Runbook) -> Runbook:
    """Each endpoint carries the runbook's ``openapi`` source, so a check needs only its spec."""
    source = runbook.openapi or None
    endpoints = tuple(replace(e, openapi=source) for e in runbook.endpoints)
    return replace(runbook, endpoints=endpoints)


def _read_table(path: Path) -> tuple[str, Any]:
    """The source label for errors and the runbook table of the file at ``path``."""
    import tomllib

    label = str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {label}") from None
    except IsADirectoryError:
        raise ConfigError(f"config path is a directory, not a TOML file: {label}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {label}: {exc}") from None
    try:
        data: dict[str, Any] = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: invalid TOML: {exc}") from None
    if path.name != "pyproject.toml":
        return label, data
    tool = data.get("tool", {})
    if not isinstance(tool, dict) or PYPROJECT_TABLE not in tool:
        raise ConfigError(f"{label}: no [tool.{PYPROJECT_TABLE}] table")
    return f"{label} [tool.{PYPROJECT_TABLE}]", tool[PYPROJECT_TABLE]


def _dotted_keys(data: Mapping[str, Any], prefix: str = "") -> frozenset[str]:
    keys: set[str] = set()
    for key, value in data.items():
        keys.add(prefix + key)
        if isinstance(value, dict) and not prefix:
            keys |= _dotted_keys(value, f"{key}.")
    return frozenset(keys)
