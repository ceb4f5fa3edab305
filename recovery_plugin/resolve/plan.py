"""Planning: every step a run will take, with its exact argv, decided before anything runs.

Placeholders are expanded and checked here, so a runbook that names a value the run does not
have fails before any directory is created.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recovery_plugin.config import Runbook, StepSpec, expand, placeholders_in
from recovery_plugin.config.schema import FINALLY_STEP, STEP_NAMES
from recovery_plugin.errors import ConfigError
from recovery_plugin.ids import step_names
from recovery_plugin.names import CAPTURE_NAME, STEP_REPORT_NAMES, step_dir
from recovery_plugin.records import dataclass
from recovery_plugin.report.model import StepRecord

__all__ = ["FINALLY_STEP", "ROLLBACK_STEP", "PlanInputs", "PlannedStep", "plan_steps"]

ROLLBACK_STEP = "rollback"
"""The name of a step's ``on_failure`` command in the report (``rollback_of`` names the step)."""


@dataclass(frozen=True)
class PlannedStep:
    """One step as planned: what it runs and, when it will not run, why."""

    name: str
    command: tuple[str, ...]
    output_path: str
    matchup_id: str | None = None
    skip_reason: str | None = None
    rollback_of: str | None = None

    @property
    def mutating(self) -> bool:
        return self.name != "capture"

    @property
    def handler(self) -> bool:
        """A rollback or the ``finally`` step: run because of other steps, never resumed."""
        return self.name in (ROLLBACK_STEP, FINALLY_STEP)

    def record(self, mode: str) -> StepRecord:
        """A fresh, mutable record of this step for the run's report."""
        record = StepRecord(
            name=self.name,
            mode=mode,
            command=list(self.command),
            output_path=self.output_path,
            matchup_id=self.matchup_id,
            rollback_of=self.rollback_of,
        )
        if self.skip_reason is not None:
            record.status = "skipped"
            record.error = self.skip_reason
        return record


@dataclass(frozen=True)
class PlanInputs:
    mode: str
    api_base: str
    input: str
    matchup_ids: Sequence[str]
    poll_fingerprint: str | None
    run_dir: Path
    skip_ingest: bool = False
    skip_reprocess: bool = False
    skip_capture: bool = False
    previous: Mapping[str, Any] | None = None


def plan_steps(runbook: Runbook, inputs: PlanInputs) -> tuple[PlannedStep, ...]:
    steps: list[PlannedStep] = []
    if inputs.mode != "verify":
        ingest_dir = step_dir(inputs.run_dir, "ingest")
        ingest_skip = "skipped by --skip-ingest" if inputs.skip_ingest else None
        steps += _with_rollback(runbook, inputs, "ingest", ingest_dir, None, ingest_skip)
        id_names = step_names(inputs.matchup_ids)
        for matchup_id, id_name in zip(inputs.matchup_ids, id_names, strict=True):
            directory = step_dir(inputs.run_dir, "reprocess", id_name)
            skip = "skipped by --skip-reprocess" if inputs.skip_reprocess else None
            steps += _with_rollback(runbook, inputs, "reprocess", directory, matchup_id, skip)
    steps.append(
        PlannedStep(
            name="capture",
            command=tuple(f"GET {inputs.api_base}{e.path}" for e in runbook.endpoints),
            output_path=str(inputs.run_dir / CAPTURE_NAME),
            skip_reason="skipped by --skip-capture" if inputs.skip_capture else None,
        )
    )
    if inputs.mode != "verify" and FINALLY_STEP in runbook.steps:
        directory = step_dir(inputs.run_dir, FINALLY_STEP)
        values = _values(inputs, directory / "finally.json", None)
        argv = _expand_argv(runbook.steps[FINALLY_STEP], values, runbook.source)
        steps.append(PlannedStep(FINALLY_STEP, tuple(argv), str(directory)))
    if inputs.previous is not None:
        steps = _skip_already_done(steps, inputs.previous)
    return tuple(steps)


def _with_rollback(
    runbook: Runbook,
    inputs: PlanInputs,
    name: str,
    directory: Path,
    matchup_id: str | None,
    skip_reason: str | None,
) -> list[PlannedStep]:
    """The step, and its ``on_failure`` command (expanded with the step's own placeholders)."""
    step = _planned(runbook, inputs, name, directory, matchup_id, skip_reason)
    handler = runbook.steps[name].on_failure
    if handler is None:
        return [step]
    values = _values(inputs, Path(step.output_path), matchup_id, directory)
    argv = [
        _expand_one(arg, values, f"{runbook.source}: steps.{name}.on_failure.command")
        for arg in handler.command
    ]
    rollback = PlannedStep(
        ROLLBACK_STEP,
        tuple(argv),
        str(directory / ROLLBACK_STEP),
        matchup_id,
        skip_reason=skip_reason,
        rollback_of=name,
    )
    return [step, rollback]


def _skip_already_done(steps: list[PlannedStep], previous: Mapping[str, Any]) -> list[PlannedStep]:
    """``--resume``: a mutating step that succeeded in the resumed run is not run again."""
    done = {
        (s["name"], s.get("matchup_id")) for s in previous["steps"] if s.get("status") == "success"
    }
    reason = f"succeeded in run {previous.get('run_id')} (resumed)"
    return [
        PlannedStep(s.name, s.command, s.output_path, s.matchup_id, reason)
        if s.name in STEP_NAMES and s.skip_reason is None and (s.name, s.matchup_id) in done
        else s
        for s in steps
    ]


def _planned(
    runbook: Runbook,
    inputs: PlanInputs,
    name: str,
    step_dir: Path,
    matchup_id: str | None,
    skip_reason: str | None,
) -> PlannedStep:
    report_path = step_dir / STEP_REPORT_NAMES[name]
    values = _values(inputs, report_path, matchup_id)
    argv = _expand_argv(runbook.steps[name], values, runbook.source)
    return PlannedStep(name, tuple(argv), str(report_path), matchup_id, skip_reason)


def _values(
    inputs: PlanInputs, report_path: Path, matchup_id: str | None, directory: Path | None = None
) -> dict[str, str | None]:
    return {
        "python": sys.executable,
        "api_base": inputs.api_base,
        "input": inputs.input,
        "matchup_id": matchup_id,
        "poll_fingerprint": inputs.poll_fingerprint,
        "run_dir": str(inputs.run_dir),
        "step_dir": str(directory or report_path.parent),
        "step_report": str(report_path),
        "mode": inputs.mode,
    }


def _expand_argv(spec: StepSpec, values: Mapping[str, str | None], source: str) -> list[str]:
    argv = list(spec.command)
    for placeholder, extra in spec.optional_args.items():
        if values.get(placeholder):
            argv.extend(extra)
    return [_expand_one(arg, values, f"{source}: steps.{spec.name}.command") for arg in argv]


def _expand_one(arg: str, values: Mapping[str, str | None], where: str) -> str:
    present = {k: v for k, v in values.items() if v is not None}
    for name in placeholders_in(arg):
        if name not in present:
            hint = (
                " (pass --poll-fingerprint, or use optional_args)"
                if name == "poll_fingerprint"
                else ""
            )
            raise ConfigError(f"{where} uses {{{name}}}, which has no value here" + hint)
    return expand(arg, present)
