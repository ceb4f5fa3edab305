"""The runbook: its schema, the built-in profile, loading from TOML, and the option table.

Import runbook names from here (``from recovery_plugin.config import Runbook``); the modules
inside are free to move.
"""

from __future__ import annotations

from recovery_plugin.config.runbook import (
    DEFAULT_ENDPOINTS,
    PLACEHOLDERS,
    STEP_NAMES,
    SUMMARY_KEYS,
    CaptureSpec,
    EndpointSpec,
    Runbook,
    StepSpec,
    default_runbook,
    expand,
    find_config_file,
    load_runbook,
    placeholders_in,
)

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
