"""Option precedence, resolved in one place: CLI flag > environment > (pytest ini) > config file >
default.

Both the launcher and the pytest plugin resolve through :func:`resolve_settings`, over the rows of
the option table (:data:`~recovery_plugin.config.options.OPTIONS`); an error names the source of
the bad value (``--jobs``, ``env RECOVERY_JOBS``, ``recovery.toml: jobs``,
``ini recovery_capture_timeout``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recovery_plugin.config import Runbook
from recovery_plugin.config.options import OPTIONS, Option, option_named, parse_api_base
from recovery_plugin.errors import ConfigError
from recovery_plugin.records import dataclass

__all__ = ["OPTIONS", "Option", "Settings", "parse_api_base", "resolve_option", "resolve_settings"]


@dataclass(frozen=True)
class Settings:
    api_base: str
    output_dir: Path
    input: str
    jobs: int
    lang: str
    capture_timeout: float
    checks_dir: Path | None
    sources: Mapping[str, str]
    """Where each value came from, for error messages and ``--explain``-style output."""


def resolve_option(
    option: Option | str,
    runbook: Runbook,
    *,
    flag: Any,
    environ: Mapping[str, str],
    ini: tuple[str, Any] | None = None,
    plugin: bool = False,
) -> tuple[Any, str]:
    """One option's value and its source: the first of flag, env, ini, file, default that is set.

    A bad value is a :class:`ConfigError` naming its source; it is never skipped for a later one.
    ``plugin`` names the flag by the plugin's ``--recovery-*`` spelling.
    """
    if isinstance(option, str):
        option = option_named(option)
    flag_label = option.plugin.flag if plugin and option.plugin else option.flag
    candidates: list[tuple[str, Any]] = [
        (flag_label, flag),
        (f"env {option.env}", environ.get(option.env) or None),
    ]
    if ini is not None:
        ini_key, ini_value = ini
        candidates.append((f"ini {ini_key}", ini_value))
    set_by_file = runbook.path is not None and option.file_key in runbook.file_keys
    file_label = f"{runbook.source}: {option.file_key}" if set_by_file else "default"
    candidates.append((file_label, option.from_runbook(runbook)))
    for label, raw in candidates:
        if raw is None:
            continue
        try:
            return option.parse(raw), label
        except ValueError as exc:
            raise ConfigError(f"invalid {option.name} {raw!r} from {label}: {exc}") from None
    return None, "default"


def resolve_settings(
    runbook: Runbook,
    *,
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    ini: Mapping[str, tuple[str, Any]] | None = None,
    plugin: bool = False,
) -> Settings:
    """Resolve every option of :data:`OPTIONS` through the precedence chain.

    ``flags`` holds command-line values by option name (``None`` when not given); ``ini`` holds
    pytest ini values as ``name -> (ini key, value)`` and ranks with the config file, above it.
    ``plugin`` says the flags are the plugin's, so errors name ``--recovery-*`` flags.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        values[option.name], sources[option.name] = resolve_option(
            option,
            runbook,
            flag=flags.get(option.name),
            environ=environ,
            ini=(ini or {}).get(option.name),
            plugin=plugin,
        )
    checks_dir = values.pop("checks_dir")
    return Settings(
        output_dir=Path(values.pop("output_dir")),
        checks_dir=Path(checks_dir) if checks_dir else None,
        sources=sources,
        **values,
    )
