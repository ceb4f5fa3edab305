"""The names of what a run leaves in its run directory, spelled once.

Scripts, CI jobs and operators read these files by name, so a name is part of the interface:
change one here and in docs/runbook.md together.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "BEFORE_CAPTURE_NAME",
    "CAPTURE_NAME",
    "FAILED_IDS_NAME",
    "IDS_TO_REDO_NAME",
    "MATCHUP_IDS_NAME",
    "PYTEST_INI_NAME",
    "PYTEST_LOG_NAME",
    "REPORT_NAME",
    "STEPS_DIR",
    "STEP_REPORT_NAMES",
    "VERIFICATION_DIR",
    "attempt_log_name",
    "report_file",
    "step_dir",
]

REPORT_NAME = "recovery_bundle_report.json"
CAPTURE_NAME = "api_capture.json"
"""What every endpoint answered after the steps (the file the checks read)."""
BEFORE_CAPTURE_NAME = "api_capture.before.json"
"""What every endpoint answered before the steps (``apply`` only): the baseline of the evidence."""
MATCHUP_IDS_NAME = "matchup_ids.json"
FAILED_IDS_NAME = "failed_reprocess_ids.json"
IDS_TO_REDO_NAME = "ids_to_redo.txt"
"""Every id a re-apply must still do, one per line, when there are too many to list in a command."""

STEPS_DIR = "steps"
STEP_REPORT_NAMES: Mapping[str, str] = MappingProxyType(
    {"ingest": "ingest_retry_report.json", "reprocess": "reprocess_report.json"}
)
"""The report each mutating step's script writes into its step directory."""

VERIFICATION_DIR = "verification"
PYTEST_INI_NAME = "pytest.ini"
PYTEST_LOG_NAME = "pytest.log"


def report_file(path: Path) -> Path:
    """The report of ``path``: a run directory's report, or ``path`` itself when it is a file."""
    return path / REPORT_NAME if path.is_dir() else path


def step_dir(run_dir: Path, name: str, id_name: str | None = None) -> Path:
    """``steps/<name>``, or ``steps/<name>-<id name>`` for a step of one matchup id, where the
    id's name comes from :func:`recovery_plugin.ids.step_names` (distinct by construction)."""
    leaf = name if id_name is None else f"{name}-{id_name}"
    return run_dir / STEPS_DIR / leaf


def attempt_log_name(number: int) -> str:
    """The log of attempt ``number`` (from 1) of a step, inside its step directory."""
    return f"attempt-{number}.log"
