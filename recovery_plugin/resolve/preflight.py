"""Preflight: what a step that will run would lack — a required environment variable, its
executable, its script — found before anything runs. A dry-run reports it; ``apply`` refuses
(exit 2) unless ``--no-preflight``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from recovery_plugin.config import Runbook
from recovery_plugin.errors import ConfigError
from recovery_plugin.ids import printable
from recovery_plugin.resolve.inputs import absolute
from recovery_plugin.resolve.plan import PlannedStep

__all__ = ["enforce_preflight", "preflight_problems"]


def preflight_problems(
    runbook: Runbook, plan: Sequence[PlannedStep], step_env: Mapping[str, str], cwd: Path
) -> list[str]:
    """Each thing a step that will run lacks, once, in plan order; empty when nothing is missing."""
    will_run = [step for step in plan if step.mutating and step.skip_reason is None]
    if not will_run:
        return []
    problems = [
        f"required environment variable {name} is not set"
        for name in runbook.required_env
        if not step_env.get(name)
    ]
    for step in will_run:
        # A rollback runs with the env and cwd of the step whose failure it answers.
        spec = runbook.steps.get(step.rollback_of or step.name)
        if spec is None:
            continue
        env = {**step_env, **spec.env}
        step_cwd = absolute(Path(spec.cwd), cwd) if spec.cwd else cwd
        key = f"steps.{step.rollback_of}.on_failure" if step.rollback_of else f"steps.{step.name}"
        for problem in _command_problems(step.command, env, step_cwd):
            line = f"{key}: {problem}"
            if line not in problems:
                problems.append(line)
    return problems


def enforce_preflight(problems: Sequence[str], *, mode: str, overridden: bool) -> None:
    """``apply`` with something missing: one ConfigError line naming all of it."""
    if mode == "apply" and problems and not overridden:
        raise ConfigError(
            f"preflight failed: {'; '.join(problems)} (fix it, or pass --no-preflight to run anyway)"
        )


def _command_problems(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> list[str]:
    if not argv:
        return []
    executable = argv[0]
    problems = []
    if os.sep in executable:
        path = absolute(Path(executable), cwd)
        if not (path.is_file() and os.access(path, os.X_OK)):
            problems.append(f"executable {printable(executable)} not found (in {cwd})")
    elif shutil.which(executable, path=env.get("PATH", os.defpath)) is None:
        problems.append(f"executable {printable(executable)} not found on PATH")
    # The script an interpreter is given (``python scripts/qa/x.py``), relative to the step's cwd.
    script = argv[1] if len(argv) > 1 else ""
    if (
        script.endswith(".py")
        and not script.startswith("-")
        and not absolute(Path(script), cwd).is_file()
    ):
        problems.append(f"script {printable(argv[1])} not found in {cwd}")
    return problems
