"""The inputs of a run that are read and checked before anything runs: ids, the resumed report,
the output directory and the report copy. Each problem is a one-line :class:`ConfigError`."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recovery_plugin.errors import ConfigError
from recovery_plugin.ids import check_matchup_id
from recovery_plugin.names import REPORT_NAME, report_file

__all__ = [
    "RESUMABLE_REQUIRED_KEYS",
    "absolute",
    "check_output_dir",
    "check_resumed_ids",
    "dedupe_ids",
    "load_resumed_report",
    "output_file_path",
    "report_copy_path",
]


def absolute(path: Path, cwd: Path) -> Path:
    return path if path.is_absolute() else cwd / path


def dedupe_ids(raw: Sequence[str], source: str | None = None) -> tuple[list[str], list[str]]:
    """The ids in order, each once; a warning per duplicate; ConfigError on an invalid id
    (naming ``source`` when the ids did not come from ``--matchup-id``)."""
    ids: list[str] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for value in raw:
        problem = check_matchup_id(value)
        if problem:
            where = "--matchup-id" if source is None else "matchup id"
            origin = "" if source is None else f" from {source}"
            raise ConfigError(f"invalid {where} {value!r}{origin}: {problem}")
        if value in seen:
            warnings.append(f"warning: duplicate matchup id {value!r} ignored")
            continue
        seen.add(value)
        ids.append(value)
    return ids, warnings


RESUMABLE_REQUIRED_KEYS = (
    "schema_version", "run_id", "status", "mode", "api_base", "matchup_id", "matchup_ids",
    "poll_fingerprint", "output_dir", "run_dir", "started_at", "finished_at", "duration_s",
    "preflight", "steps", "verification", "ops_checklist", "generated_at",
)  # fmt: skip
"""docs/report.schema.json's top-level ``required`` (a test keeps the two equal)."""

_NULL = type(None)
# The shape a resumed report must have, checked by hand: jsonschema stays off this path.
_KEY_TYPES: dict[str, tuple[type, ...]] = {
    "run_id": (str,),
    "status": (str,),
    "mode": (str,),
    "api_base": (str,),
    "matchup_id": (str, _NULL),
    "matchup_ids": (list,),
    "poll_fingerprint": (str, _NULL),
    "output_dir": (str,),
    "run_dir": (str,),
    "started_at": (str,),
    "finished_at": (str, _NULL),
    "duration_s": (int, float, _NULL),
    "preflight": (dict,),
    "steps": (list,),
    "verification": (dict, _NULL),
    "ops_checklist": (list,),
    "generated_at": (str,),
    "config_path": (str, _NULL),
}


def _shape_problem(report: Any) -> str | None:
    """Why ``report`` does not have the required shape of a report, or ``None``."""
    if not isinstance(report, dict):
        return "not a JSON object"
    missing = [key for key in RESUMABLE_REQUIRED_KEYS if key not in report]
    if missing:
        return f"missing {', '.join(missing)}"
    if report["schema_version"] != 1 or isinstance(report["schema_version"], bool):
        return f"schema_version {report['schema_version']!r} is not 1"
    for key, types in _KEY_TYPES.items():
        if key in report and (not isinstance(report[key], types) or isinstance(report[key], bool)):
            return f"{key} is not {' or '.join(t.__name__ for t in types)}"
    if not all(isinstance(value, str) for value in report["matchup_ids"]):
        return "matchup_ids is not a list of strings"
    for index, step in enumerate(report["steps"]):
        if not isinstance(step, dict):
            return f"steps[{index}] is not an object"
        for key in ("name", "status"):
            if not isinstance(step.get(key), str):
                return f"steps[{index}].{key} is not a string"
        if not isinstance(step.get("matchup_id"), (str, _NULL)):
            return f"steps[{index}].matchup_id is not a string"
    return None


def check_resumed_ids(ids: Sequence[str], previous: Mapping[str, Any], resume_from: Path) -> None:
    """Ids given again with ``--resume`` must be ids of the resumed run."""
    known = set(previous["matchup_ids"])
    unknown = [value for value in ids if value not in known]
    if unknown:
        raise ConfigError(
            f"--resume {resume_from}: matchup id {unknown[0]!r} is not one of the resumed run's"
            f" {len(known)} id(s); resume only those, or start a new run for it"
        )


def load_resumed_report(resume_from: Path, cwd: Path, mode: str) -> dict[str, Any]:
    """``--resume RUN_DIR``: the report of the apply run being resumed, of a valid shape."""
    path = absolute(resume_from, cwd)
    report_path = report_file(path)
    try:
        previous: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--resume {resume_from}: no {REPORT_NAME} there") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--resume {resume_from}: unreadable report: {exc}") from None
    if mode == "verify":
        raise ConfigError("--resume goes with run, not verify")
    problem = _shape_problem(previous)
    if problem is not None:
        raise ConfigError(f"--resume {resume_from}: not a valid {REPORT_NAME}: {problem}")
    if previous["mode"] != "apply":
        raise ConfigError(f"--resume {resume_from}: not the report of an apply run")
    return previous


def check_output_dir(output_dir: Path, source: str) -> None:
    """The output directory exists (created if need be) and takes files; the run dir comes later."""
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigError(f"output directory {output_dir} (from {source}) is not a directory")
    probe = output_dir / f".write-probe-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: never follows or reuses an existing file; no tempfile import on the dry-run path.
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(
            f"cannot write to output directory {output_dir} (from {source}): {reason}"
        ) from None


def report_copy_path(report_copy: Path | None, cwd: Path) -> Path | None:
    """``--report PATH``: where a copy of the report goes; its directory is created now."""
    return output_file_path(report_copy, cwd, "--report")


def output_file_path(given: Path | None, cwd: Path, flag: str) -> Path | None:
    """A file the run will write (``--report``, ``--junit-xml``): not a directory, and its
    directory exists (created now) — so a wrong path fails before anything runs."""
    if given is None:
        return None
    path = absolute(given, cwd)
    if path.is_dir():
        raise ConfigError(f"{flag} {given} is a directory, not a file path")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ConfigError(f"{flag} {given}: {blocker} is a file, not a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the directory of {flag} {given}: {exc.strerror or exc}"
        ) from None
    return path
