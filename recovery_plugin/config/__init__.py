"""The runbook: its schema, the built-in profile, loading from TOML, and the option table.

Import runbook names from here (``from recovery_plugin.config import Runbook``); the modules
inside (``schema``, ``profile``, ``loading``, ``settings``) are free to move. The names load on
first use, so what imports only the option table (``--help``) does not pay for the schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recovery_plugin.lazy import lazy_exports

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
    "find_config_file": "recovery_plugin.config.loading",
    "load_runbook": "recovery_plugin.config.loading",
    "DEFAULT_ENDPOINTS": "recovery_plugin.config.profile",
    "SUMMARY_KEYS": "recovery_plugin.config.profile",
    "default_runbook": "recovery_plugin.config.profile",
    "PLACEHOLDERS": "recovery_plugin.config.schema",
    "STEP_NAMES": "recovery_plugin.config.schema",
    "CaptureSpec": "recovery_plugin.config.schema",
    "EndpointSpec": "recovery_plugin.config.schema",
    "Runbook": "recovery_plugin.config.schema",
    "StepSpec": "recovery_plugin.config.schema",
    "expand": "recovery_plugin.config.schema",
    "placeholders_in": "recovery_plugin.config.schema",
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


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
