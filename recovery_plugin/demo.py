"""``recovery-bundle demo``: the whole apply flow against the built-in simulated service."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from recovery_plugin.errors import RecoveryError
from recovery_plugin.run.pipeline import RunOutcome, RunRequest, execute, prepare

__all__ = ["run_demo"]


def run_demo(output_dir: Path, *, console: Callable[[str], None]) -> RunOutcome:
    """Start the simulated service on a free port, apply every sample matchup, stop the service."""
    from recovery_plugin.sim.data import MATCHUP_IDS
    from recovery_plugin.sim.harness import SimulatedService

    output_dir = output_dir.absolute()
    if output_dir.exists() and not output_dir.is_dir():
        raise RecoveryError(f"--output-dir {output_dir} is not a directory")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecoveryError(f"cannot create --output-dir {output_dir}: {exc.strerror}") from None
    service = SimulatedService(output_dir / "sim")
    try:
        service.start()
    except RuntimeError as exc:
        raise RecoveryError(f"the simulated service did not start: {exc}") from None
    try:
        console(f"simulated service up at {service.base_url} (data: {service.data_dir})")
        request = RunRequest(
            mode="apply",
            matchup_ids=MATCHUP_IDS,
            config_path=service.config_path,
            # The demo's own service wins over any API_BASE_URL / RECOVERY_OUTPUT_DIR in the environment.
            flags={"api_base": service.base_url, "output_dir": str(output_dir / "runs")},
            environ=dict(os.environ),
        )
        return execute(prepare(request), console)
    finally:
        service.stop()
        console("simulated service stopped")
