"""The plugin's command-line options and their ini twins (one ``recovery`` group)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recovery_plugin.config import find_config_file

__all__ = ["PLUGIN_FLAGS", "config_path", "path_option", "pytest_addoption"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("recovery", "recovery-bundle: post-recovery health checks")
    group.addoption(
        "--recovery-base-url",
        dest="recovery_base_url",
        metavar="URL",
        help="Check this service's endpoints (enables the plugin). Env API_BASE_URL overrides the ini value.",
    )
    group.addoption(
        "--recovery-matchup-id",
        dest="recovery_matchup_ids",
        action="append",
        metavar="ID",
        help="A matchup id to check (repeatable).",
    )
    group.addoption(
        "--recovery-config",
        dest="recovery_config",
        metavar="PATH",
        help="Runbook TOML giving the endpoints and expectations. [env RECOVERY_CONFIG; default"
        " ./recovery.toml or [tool.recovery_bundle] in ./pyproject.toml; else the built-in profile]",
    )
    group.addoption(
        "--recovery-output-dir",
        dest="recovery_output_dir",
        metavar="DIR",
        help="Write api_capture.json and a verify-mode report into a new run directory here.",
    )
    group.addoption(
        "--recovery-capture-timeout",
        dest="recovery_capture_timeout",
        metavar="SECONDS",
        help="Timeout of each capture request. [env RECOVERY_CAPTURE_TIMEOUT; runbook"
        " capture.timeout; default 10]",
    )
    parser.addini("recovery_base_url", "Base URL to check (enables the plugin).")
    parser.addini("recovery_matchup_ids", "Matchup ids to check, one per line.", type="linelist")
    parser.addini(
        "recovery_config",
        "Runbook TOML with the endpoints and expectations (relative to the ini file).",
    )
    parser.addini(
        "recovery_output_dir",
        "Directory for captures and the verify-mode report (relative to the ini file).",
    )
    parser.addini("recovery_capture_timeout", "Timeout of each capture request, in seconds.")


PLUGIN_FLAGS = {"api_base": "--recovery-base-url", "capture_timeout": "--recovery-capture-timeout"}


def config_path(config: pytest.Config) -> Path | None:
    """``--recovery-config``, env ``RECOVERY_CONFIG``, ini ``recovery_config``, else discovery."""
    env_value = os.environ.get("RECOVERY_CONFIG") or None
    if config.getoption("recovery_config") is None and env_value is not None:
        return config.invocation_params.dir / env_value
    path = path_option(config, "recovery_config")
    return path if path is not None else find_config_file(config.invocation_params.dir)


def path_option(config: pytest.Config, name: str) -> Path | None:
    """A path option: the flag (relative to the invocation directory), else the ini value
    (relative to the ini file's directory)."""
    flag = config.getoption(name)
    if flag:
        return config.invocation_params.dir / str(flag)
    value = config.getini(name)
    if not value:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return base / str(value)
