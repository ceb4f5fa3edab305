"""recovery_plugin: an operations-recovery runbook harness.

The launcher is ``recovery-bundle`` (:mod:`recovery_plugin.cli`); the pytest plugin is
:mod:`recovery_plugin.plugin` (entry point ``recovery``). The names below are imported on first
use (PEP 562), so importing the package — which every CLI start does — costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recovery_plugin.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "CaptureSpec": "recovery_plugin.config",
    "EndpointSpec": "recovery_plugin.config",
    "Runbook": "recovery_plugin.config",
    "StepSpec": "recovery_plugin.config",
    "default_runbook": "recovery_plugin.config",
    "load_runbook": "recovery_plugin.config",
    "ConfigError": "recovery_plugin.errors",
    "ExitCode": "recovery_plugin.errors",
    "RecoveryError": "recovery_plugin.errors",
    "BundleResult": "recovery_plugin.pytest_plugin.fixtures",
    "RecoverySim": "recovery_plugin.pytest_plugin.fixtures",
    "RunBundle": "recovery_plugin.pytest_plugin.fixtures",
    "RunOutcome": "recovery_plugin.run.pipeline",
    "RunRequest": "recovery_plugin.resolve.context",
    "execute": "recovery_plugin.run.pipeline",
    "prepare": "recovery_plugin.resolve.context",
}

__all__ = [
    "BundleResult",
    "CaptureSpec",
    "ConfigError",
    "EndpointSpec",
    "ExitCode",
    "RecoveryError",
    "RecoverySim",
    "RunBundle",
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

if TYPE_CHECKING:
    from recovery_plugin.config import (
        CaptureSpec,
        EndpointSpec,
        Runbook,
        StepSpec,
        default_runbook,
        load_runbook,
    )
    from recovery_plugin.errors import ConfigError, ExitCode, RecoveryError
    from recovery_plugin.pytest_plugin.fixtures import BundleResult, RecoverySim, RunBundle
    from recovery_plugin.resolve.context import RunRequest, prepare
    from recovery_plugin.run.pipeline import RunOutcome, execute


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
