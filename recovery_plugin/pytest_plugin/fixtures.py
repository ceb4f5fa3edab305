"""QA fixtures: a simulated service with injected faults, and the launcher run as the CLI runs.

They are registered by the ``recovery`` plugin and cost nothing until a test asks for them::

    def test_transient_ingest_failure_recovers(recovery_sim: RecoverySim, run_bundle: RunBundle) -> None:
        sim = recovery_sim(faults={"ingest": {"fail_times": 1}}, steps={"ingest": {"retries": 1, "backoff": 0.01}})
        result = run_bundle("run", "--mode", "apply", "--config", str(sim.config_path), "--matchup-id", ID)
        assert result.exit_code == 0
        assert len(result.step("ingest")["attempts"]) == 2

``RecoverySim`` and ``RunBundle`` are the fixtures' types, for annotating tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from recovery_plugin.http.capture_file import judged_captures
from recovery_plugin.names import CAPTURE_NAME
from recovery_plugin.records import dataclass
from recovery_plugin.report.checklist import GUIDE_PREFIXES

if TYPE_CHECKING:
    from recovery_plugin.sim.harness import SimulatedService

__all__ = ["BundleResult", "RecoverySim", "RunBundle", "recovery_sim", "run_bundle"]

LAUNCHER_ENV = (
    "API_BASE_URL",
    "RECOVERY_CONFIG",
    "RECOVERY_OUTPUT_DIR",
    "RECOVERY_INPUT",
    "RECOVERY_JOBS",
    "RECOVERY_LANG",
    "RECOVERY_CAPTURE_TIMEOUT",
    "RECOVERY_CHECKS_DIR",
    "RECOVERY_BASELINE",
    "GITHUB_STEP_SUMMARY",
    "PYTEST_ADDOPTS",
)
"""Variables that change what the launcher does: ``run_bundle`` does not inherit them from the
test process (a developer's ``export API_BASE_URL=...`` must never point a scenario's ``apply`` at
a real service, nor a CI runner's ``GITHUB_STEP_SUMMARY`` collect every scenario's summary).
Pass them explicitly with ``run_bundle(..., env={...})``."""


class RecoverySim(Protocol):
    """The type of the ``recovery_sim`` fixture (a factory of simulated services)."""

    def __call__(
        self, faults: Mapping[str, Any] | None = None, **runbook_overrides: Any
    ) -> SimulatedService: ...


class RunBundle(Protocol):
    """The type of the ``run_bundle`` fixture (runs ``recovery-bundle`` as a subprocess)."""

    def __call__(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120.0
    ) -> BundleResult: ...


@dataclass
class BundleResult:
    """One launcher run: exit code, what it printed, and the report it left."""

    args: list[str]
    exit_code: int
    stdout: str
    stderr: str
    report_path: Path | None
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def output(self) -> str:
        """Everything the launcher printed (stdout, then stderr)."""
        return self.stdout + self.stderr

    @property
    def run_dir(self) -> Path | None:
        return self.report_path.parent if self.report_path else None

    @property
    def checklist(self) -> list[str]:
        return list(self.report.get("ops_checklist", []))

    @property
    def guides(self) -> list[str]:
        """The checklist's ``retry-guide:`` / ``rollback-guide:`` lines."""
        return [line for line in self.checklist if line.startswith(GUIDE_PREFIXES)]

    def steps(self, name: str) -> list[dict[str, Any]]:
        return [s for s in self.report.get("steps", []) if s["name"] == name]

    def step(self, name: str, matchup_id: str | None = None) -> dict[str, Any]:
        """The step called ``name`` (for ``matchup_id``, or the first one); KeyError if absent."""
        for step in self.steps(name):
            if matchup_id is None or step.get("matchup_id") == matchup_id:
                return step
        raise KeyError(f"no step {name!r}" + (f" for {matchup_id!r}" if matchup_id else ""))

    def checks(self, outcome: str | None = None) -> list[dict[str, Any]]:
        tests = (self.report.get("verification") or {}).get("tests", [])
        return [t for t in tests if outcome is None or t["outcome"] == outcome]

    def captures(self) -> list[dict[str, Any]]:
        """Every capture in the run's ``api_capture.json``, as the file holds them: a polled
        check has one for each attempt (:meth:`capture` gives the one it was judged on)."""
        if self.run_dir is None or not (self.run_dir / CAPTURE_NAME).exists():
            return []
        data = json.loads((self.run_dir / CAPTURE_NAME).read_text(encoding="utf-8"))
        return list(data["captures"])

    def capture(self, endpoint: str, matchup_id: str | None = None) -> dict[str, Any]:
        """The captured response of ``endpoint`` (for ``matchup_id``) the check was judged on
        (a polled check's last attempt); KeyError if absent."""
        found = judged_captures(self.captures()).get((endpoint, matchup_id))
        if found is not None:
            return found
        raise KeyError(
            f"no capture of {endpoint!r}" + (f" for {matchup_id!r}" if matchup_id else "")
        )


@pytest.fixture
def recovery_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecoverySim]:
    """Factory: ``recovery_sim(faults=None, **runbook_overrides)`` starts a fresh simulated service.

    Each call gets its own data directory and free port; ``runbook_overrides`` are merged into the
    runbook at ``sim.config_path`` (e.g. ``steps={"ingest": {"retries": 2, "backoff": 0.01}}``).
    Every service started is stopped at teardown, even when the test fails.
    """
    from recovery_plugin.sim.harness import SimulatedService

    started: list[SimulatedService] = []

    def start(
        faults: Mapping[str, Any] | None = None, **runbook_overrides: Any
    ) -> SimulatedService:
        service = SimulatedService(tmp_path_factory.mktemp("recovery-sim"), faults=faults)
        started.append(service)
        slow_start = bool((faults or {}).get("service", {}).get("start_delay"))
        service.start(wait=not slow_start)
        if runbook_overrides:
            service.write_runbook(**runbook_overrides)
        return service

    try:
        yield start
    finally:
        with contextlib.ExitStack() as stack:  # stop every one, even if stopping one fails
            for service in started:
                stack.callback(service.stop)


@pytest.fixture
def run_bundle(tmp_path: Path) -> RunBundle:
    """Run ``recovery-bundle`` exactly as an operator would: a real subprocess.

    ``run_bundle("run", "--mode", "apply", "--config", str(sim.config_path), "--matchup-id", ID)``;
    the working directory is the test's ``tmp_path``, and without ``--output-dir`` the run goes
    under ``tmp_path / "runs"``. Keyword ``env`` adds environment variables (the launcher's own,
    :data:`LAUNCHER_ENV`, are not inherited from the test process: give them here), ``timeout``
    bounds the run (default 120 s).
    """

    def run(
        *args: str, env: Mapping[str, str] | None = None, timeout: float = 120.0
    ) -> BundleResult:
        argv = list(args)
        if argv and argv[0] in ("run", "verify") and "--output-dir" not in argv:
            argv += ["--output-dir", str(tmp_path / "runs")]
        proc = subprocess.run(  # noqa: S603 - argv list, no shell
            [sys.executable, "-m", "recovery_plugin", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={
                **{k: v for k, v in os.environ.items() if k not in LAUNCHER_ENV},
                **(env or {}),
            },
            cwd=tmp_path,
            check=False,
        )
        report_path = _report_path(proc.stdout + proc.stderr)
        report: dict[str, Any] = {}
        if report_path is not None and report_path.is_file():
            report = json.loads(report_path.read_text(encoding="utf-8"))
        return BundleResult(argv, proc.returncode, proc.stdout, proc.stderr, report_path, report)

    return run


def _report_path(output: str) -> Path | None:
    for line in reversed(output.splitlines()):
        if line.startswith("report: "):
            return Path(line.removeprefix("report: ").strip())
    return None
