"""recovery_plugin: an operations-recovery runbook harness.

The launcher is ``recovery-bundle`` (:mod:`recovery_plugin.cli`); the pytest plugin is
:mod:`recovery_plugin.plugin` (entry point ``recovery``). This package namespace stays light:
importing it never imports pytest, httpx or click.
"""

from __future__ import annotations

from recovery_plugin.config import (
    CaptureSpec,
    EndpointSpec,
    Runbook,
    StepSpec,
    default_runbook,
    load_runbook,
)
from recovery_plugin.errors import ConfigError, ExitCode, RecoveryError
from recovery_plugin.runner import RunOutcome, RunRequest, execute, prepare

__version__ = "0.1.0"

__all__ = [
    "CaptureSpec",
    "ConfigError",
    "EndpointSpec",
    "ExitCode",
    "RecoveryError",
    "RunOutcome",
    "RunRequest",
    "Runbook",
    "StepSpec",
    "__version__",
    "default_runbook",
    "execute",
    "load_runbook",
    "prepare",
]
