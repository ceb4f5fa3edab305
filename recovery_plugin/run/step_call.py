"""Running one step of a run context: its directory, its env and cwd, masked, cancellable.

The one place that turns a step record and its spec into a :func:`run_step` call, for the
mutating steps and for the rollback and ``finally`` handlers alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recovery_plugin.report.model import StepRecord
from recovery_plugin.resolve.context import RunContext
from recovery_plugin.resolve.inputs import absolute

__all__ = ["run_context_step"]

GroupHook = Callable[[int], None]


def run_context_step(
    context: RunContext,
    record: StepRecord,
    spec: Any,
    step_dir: Path,
    *,
    cancel: threading.Event,
    on_change: Callable[[StepRecord], None],
    on_group_start: GroupHook | None = None,
    on_group_end: GroupHook | None = None,
) -> None:
    from recovery_plugin.run.process import no_group_hook
    from recovery_plugin.run.steps import run_step

    step_dir.mkdir(parents=True, exist_ok=True)
    cwd = context.request.cwd
    run_step(
        record,
        spec,
        record.command,
        step_dir=step_dir,
        env={**context.step_env, **spec.env},
        cwd=absolute(Path(spec.cwd), cwd) if spec.cwd else cwd,
        redactor=context.redactor,
        cancel=cancel,
        on_change=on_change,
        on_group_start=on_group_start or no_group_hook,
        on_group_end=on_group_end or no_group_hook,
    )
