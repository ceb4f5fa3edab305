"""The runbook: its schema, the built-in profile, loading from TOML, and the option table.

Import runbook names from here (``from recovery_plugin.config import Runbook``); the modules
inside (``schema``, ``profile``, ``loading``, ``settings``) are free to move. The names load on
first use, so what imports only the option table (``--help``) does not pay for the schema.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recovery_plugin.config.loading import find_config_file as find_config_file
    from recovery_plugin.config.loading import load_runbook as load_runbook
    from recovery_plugin.config.profile import DEFAULT_ENDPOINTS as DEFAULT_ENDPOINTS
    from recovery_plugin.config.profile import SUMMARY_KEYS as SUMMARY_KEYS
    from recovery_plugin.config.profile import default_runbook as default_runbook
    from recovery_plugin.config.schema import PLACEHOLDERS as PLACEHOLDERS
    from recovery_plugin.config.schema import STEP_NAMES as STEP_NAMES
    from recovery_plugin.config.schema import CaptureSpec as CaptureSpec
    from recovery_plugin.config.schema import EndpointSpec as EndpointSpec
    from recovery_plugin.config.schema import Runbook as Runbook
    from recovery_plugin.config.schema import StepSpec as StepSpec
    from recovery_plugin.config.schema import expand as expand
    from recovery_plugin.config.schema import placeholders_in as placeholders_in

_HOME = {
    "find_config_file": "loading",
    "load_runbook": "loading",
    "DEFAULT_ENDPOINTS": "profile",
    "SUMMARY_KEYS": "profile",
    "default_runbook": "profile",
    "PLACEHOLDERS": "schema",
    "STEP_NAMES": "schema",
    "CaptureSpec": "schema",
    "EndpointSpec": "schema",
    "Runbook": "schema",
    "StepSpec": "schema",
    "expand": "schema",
    "placeholders_in": "schema",
}

__all__ = [
    "DEFAULT_ENDPOINTS",
    "PLACEHOLDERS",
    "STEP_NAMES",
    "SUMMARY_KEYS",
    "CaptureSpec",
    "EndpointSpec",
    "Runbook",
    "StepSpec",
    "default_runbook",
    "expand",
    "find_config_file",
    "load_runbook",
    "placeholders_in",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
