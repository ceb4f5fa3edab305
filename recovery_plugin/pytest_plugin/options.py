"""The plugin's command-line options and their ini twins (one ``recovery`` group), built from the
option table (:func:`recovery_plugin.config.options.plugin_flags`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from recovery_plugin.config import Runbook, find_config_file
from recovery_plugin.config.options import BASELINE_ENV, CONFIG_ENV, OPTIONS, plugin_flags

if TYPE_CHECKING:
    from recovery_plugin.config.settings import Settings

__all__ = [
    "PLUGIN_FLAGS",
    "baseline_dir",
    "config_path",
    "path_option",
    "plugin_enabled",
    "pytest_addoption",
    "resolve_plugin_settings",
]

PLUGIN_FLAGS = {option.name: option.plugin.flag for option in OPTIONS if option.plugin}
"""Setting name -> the plugin's flag for it (from the option table)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("recovery", "recovery-bundle: post-recovery health checks")
    for row in plugin_flags():
        group.addoption(
            row.flag,
            dest=row.dest,
            action="append" if row.repeatable else "store",
            metavar=row.metavar,
            help=row.help,
        )
        if row.repeatable:
            parser.addini(row.ini, row.ini_help, type="linelist")
        else:
            parser.addini(row.ini, row.ini_help)


def plugin_enabled(config: pytest.Config) -> bool:
    """The flag or the ini value of an enabling option (``--recovery-base-url``) is set."""
    return any(
        config.getoption(option.plugin.ini) or config.getini(option.plugin.ini)
        for option in OPTIONS
        if option.plugin and option.plugin.enables
    )


def plugin_values(
    config: pytest.Config,
) -> tuple[dict[str, Any], dict[str, tuple[str, Any]]]:
    """The plugin's setting values: flags by option name, and ini values as (ini key, value)."""
    flags: dict[str, Any] = {}
    ini: dict[str, tuple[str, Any]] = {}
    for option in OPTIONS:
        if option.plugin is None:
            continue
        flags[option.name] = config.getoption(option.plugin.ini)
        ini[option.name] = (option.plugin.ini, config.getini(option.plugin.ini) or None)
    return flags, ini


def resolve_plugin_settings(config: pytest.Config, runbook: Runbook) -> Settings:
    """The settings of a plain pytest session: flag > env > ini > runbook file > default.

    Raises :class:`~recovery_plugin.errors.ConfigError` naming the flag, env var, ini key or file.
    """
    from recovery_plugin.config.settings import resolve_settings

    flags, ini = plugin_values(config)
    return resolve_settings(runbook, flags=flags, environ=os.environ, ini=ini, plugin=True)


def config_path(config: pytest.Config) -> Path | None:
    """``--recovery-config``, env ``RECOVERY_CONFIG``, ini ``recovery_config``, else discovery."""
    path = path_option(config, "recovery_config", env=CONFIG_ENV)
    return path if path is not None else find_config_file(config.invocation_params.dir)


def baseline_dir(config: pytest.Config) -> tuple[Path | None, str]:
    """``--recovery-baseline``, env ``RECOVERY_BASELINE``, ini ``recovery_baseline``; and which."""
    path = path_option(config, "recovery_baseline", env=BASELINE_ENV)
    if config.getoption("recovery_baseline"):
        return path, "--recovery-baseline"
    if os.environ.get(BASELINE_ENV):
        return path, f"env {BASELINE_ENV}"
    return path, "ini recovery_baseline"


def path_option(config: pytest.Config, name: str, *, env: str | None = None) -> Path | None:
    """A path option: the flag, else the ``env`` variable (both relative to the invocation
    directory), else the ini value (relative to the ini file's directory)."""
    flag = config.getoption(name)
    if flag:
        return config.invocation_params.dir / str(flag)
    env_value = os.environ.get(env) if env is not None else None
    if env_value:
        return config.invocation_params.dir / env_value
    value = config.getini(name)
    if not value:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return base / str(value)
