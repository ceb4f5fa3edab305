"""Finding and loading a runbook file: ``--config``, ``recovery.toml``, or ``pyproject.toml``.

``tomllib`` is imported only once a file must be parsed, so a run without a config file never
pays for it.
"""

from __future__ import annotations

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
    import tomllib

    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # not ours to judge; only an explicit --config is validated strictly
    if isinstance(data.get("tool"), dict) and PYPROJECT_TABLE in data["tool"]:
        return pyproject
    return None


def load_runbook(path: Path | None) -> Runbook:
    """The default profile, overridden by the TOML file at ``path`` when given."""
    base = default_runbook()
    if path is None:
        return base
    label, data = _read_table(path)
    # [notify] has its own parser (webhooks with {env:NAME} references), errors naming the key.
    notify: tuple[WebhookSpec, ...] = ()
    has_notify = isinstance(data, dict) and "notify" in data
    if has_notify:
        notify = parse_notify(data["notify"], label)
        data = {key: value for key, value in data.items() if key != "notify"}
    try:
        runbook = parse(Runbook, data, source=label, base=base)
    except ValidationError as exc:
        raise ConfigError(str(exc)) from None
    steps = {name: replace(spec, name=name) for name, spec in runbook.steps.items()}
    keys = _dotted_keys(data) | ({"notify"} if has_notify else set())
    return replace(runbook, steps=steps, notify=notify, source=label, path=path, file_keys=keys)


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
