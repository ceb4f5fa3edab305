"""The runbook: its schema, the built-in profile, loading from TOML, and the option table.

Import runbook names from here (``from recovery_plugin.config import Runbook``); the modules
inside (``schema``, ``profile``, ``loading``, ``settings``) are free to move.
"""

from __future__ import annotations

from recovery_plugin.config.loading import find_config_file, load_runbook
from recovery_plugin.config.profile import DEFAULT_ENDPOINTS, SUMMARY_KEYS, default_runbook
from recovery_plugin.config.schema import (
    PLACEHOLDERS,
    STEP_NAMES,
    CaptureSpec,
    EndpointSpec,
    Runbook,
    StepSpec,
    expand,
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
