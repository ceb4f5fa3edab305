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
    seen = set(problems)
    # Every reprocess step of a run has the same executable and script: each is looked up once
    # per step spec (whose env and cwd the lookup depends on).
    looked_up: dict[tuple[str, str, str], list[str]] = {}
    for step in will_run:
        # A rollback runs with the env and cwd of the step whose failure it answers.
        name = step.rollback_of or step.name
        spec = runbook.steps.get(name)
        if spec is None:
            continue
        argv = step.command
        lookup = (name, argv[0] if argv else "", argv[1] if len(argv) > 1 else "")
        if lookup not in looked_up:
            search_path = spec.env.get("PATH", step_env.get("PATH", os.defpath))
            step_cwd = absolute(Path(spec.cwd), cwd) if spec.cwd else cwd
            looked_up[lookup] = _command_problems(argv, search_path, step_cwd)
        key = f"steps.{step.rollback_of}.on_failure" if step.rollback_of else f"steps.{step.name}"
        for problem in looked_up[lookup]:
            line = f"{key}: {problem}"
            if line not in seen:
                seen.add(line)
                problems.append(line)
    return problems


def enforce_preflight(problems: Sequence[str], *, mode: str, overridden: bool) -> None:
    """``apply`` with something missing: one ConfigError line naming all of it."""
    if mode == "apply" and problems and not overridden:
        raise ConfigError(
            f"preflight failed: {'; '.join(problems)} (fix it, or pass --no-preflight to run anyway)"
        )


def _command_problems(argv: Sequence[str], search_path: str, cwd: Path) -> list[str]:
    """What running ``argv`` in ``cwd`` with ``PATH=search_path`` would lack: it depends on
    ``argv[0]`` and ``argv[1]`` only."""
    if not argv:
        return []
    executable = argv[0]
    problems = []
    if os.sep in executable:
        path = absolute(Path(executable), cwd)
        if not (path.is_file() and os.access(path, os.X_OK)):
            problems.append(f"executable {printable(executable)} not found (in {cwd})")
    elif shutil.which(executable, path=search_path) is None:
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
