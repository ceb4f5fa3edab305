"""The runbook document that points recovery-bundle at a simulated service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recovery_plugin.sim.data import SAMPLE_INGEST_PATH

__all__ = ["INGEST_STEP_COMMAND", "REPROCESS_STEP_COMMAND", "runbook_document"]

# Runbook step commands; the placeholders are expanded later by the harness core.
INGEST_STEP_COMMAND = (
    "{python} -m recovery_plugin.sim.ingest --api-base {api_base} --input {input}"
    " --report {step_report}"
)
REPROCESS_STEP_COMMAND = (
    "{python} -m recovery_plugin.sim.reprocess --mode apply --matchup-id {matchup_id}"
    " --output-dir {step_dir} --report {step_report}"
)


def runbook_document(
    base_url: str, env: Mapping[str, str], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """The runbook (before TOML) for the service at ``base_url``, ``overrides`` deep-merged in."""
    document: dict[str, Any] = {
        "api_base": base_url,
        "input": str(SAMPLE_INGEST_PATH),
        "required_env": ["DATABASE_URL", "INTERNAL_JOB_TOKEN"],
        "env": dict(env),
        "steps": {
            "ingest": {"command": INGEST_STEP_COMMAND.split(), "timeout": 60},
            "reprocess": {"command": REPROCESS_STEP_COMMAND.split(), "timeout": 60},
        },
    }
    return _merge(document, overrides)


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``overrides`` into a copy of ``base``; a ``None`` value removes the key."""
    result = dict(base)
    for key, value in overrides.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _merge(dict(result[key]), value)
        elif isinstance(value, Mapping):
            result[key] = _merge({}, value)
        else:
            result[key] = value
    return result
