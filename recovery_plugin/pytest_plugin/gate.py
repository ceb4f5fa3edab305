"""The plain-pytest gate: ``pytest --recovery-base-url URL`` (or its ini twin) in any project.

Its options become a :class:`~recovery_plugin.resolve.context.RunRequest` in verify mode,
resolved by the same :func:`~recovery_plugin.resolve.context.resolve_run` as the launcher's.
With ``--recovery-output-dir`` the session also leaves captures and a verify-mode report,
finished by the same :func:`~recovery_plugin.report.finish.finish_report` as ``recovery-bundle
verify``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from recovery_plugin.errors import RecoveryError
from recovery_plugin.names import CAPTURE_NAME
from recovery_plugin.pytest_plugin.options import (
    baseline_dir,
    config_path,
    path_option,
    plugin_enabled,
    plugin_values,
)
from recovery_plugin.pytest_plugin.session import SESSION, SessionSpec
from recovery_plugin.report.finish import finish_report
from recovery_plugin.report.writer import Report, ReportWriter
from recovery_plugin.resolve.context import (
    RunContext,
    RunRequest,
    baseline_capture,
    resolve_run,
)

__all__ = ["JunitMasking", "ReportGate", "gate_from_options"]


def gate_from_options(config: pytest.Config) -> SessionSpec | None:
    """The session spec of a plain ``pytest --recovery-base-url`` session (None: stay inert).

    Precedence is the launcher's, with the pytest ini ranking just above the runbook file:
    flag > environment > ini > runbook file > default. Relative paths from the command line or
    the environment are taken from the invocation directory; relative paths in the ini file
    from the ini file's directory.
    """
    if not plugin_enabled(config):
        return None
    flags, ini = plugin_values(config)
    output_dir = path_option(config, "recovery_output_dir")
    keeps_report = output_dir is not None and not config.option.collectonly
    baseline, baseline_source = baseline_dir(config)
    flag_ids = config.getoption("recovery_matchup_ids")
    ids = list(flag_ids) if flag_ids else [str(i) for i in config.getini("recovery_matchup_ids")]
    try:
        context = resolve_run(
            RunRequest(
                mode="verify",
                matchup_ids=ids,
                config_path=config_path(config),
                flags={
                    **flags,
                    "output_dir": str(output_dir) if output_dir is not None else None,
                },
                ini=ini,
                plugin=True,
                ids_source="--recovery-matchup-id" if flag_ids else "ini recovery_matchup_ids",
                cwd=config.invocation_params.dir,
                environ=dict(os.environ),
                keeps_report=keeps_report,
                baseline=baseline,
                baseline_source=baseline_source,
            )
        )
    except RecoveryError as exc:
        raise pytest.UsageError(f"recovery: {exc.message}") from None
    spec = SessionSpec(
        base_url=context.settings.api_base,
        matchup_ids=list(context.matchup_ids),
        endpoints=context.runbook.endpoints,
        capture=context.capture_spec,
        redactor=context.redactor,
        baseline_path=baseline_capture(context),
    )
    if getattr(config.option, "xmlpath", None):
        config.pluginmanager.register(JunitMasking(config, context), "recovery-junit-masking")
    if keeps_report:
        try:
            context.run_dir.mkdir(parents=True)
        except OSError as exc:
            raise pytest.UsageError(
                f"recovery: cannot create run directory {context.run_dir}: {exc.strerror}"
            ) from None
        spec.capture_path = context.run_dir / CAPTURE_NAME
        config.pluginmanager.register(ReportGate(config, context), "recovery-report")
    return spec


class ReportGate:
    """Finishes the gate's report once the session has reported its outcomes."""

    def __init__(self, config: pytest.Config, context: RunContext) -> None:
        self._config = config
        self._context = context
        self._started = time.monotonic()
        self._report: Report = context.start_report()
        capture = self._report.step("capture")
        if capture is not None:
            capture.status = "running"
            capture.started_at = self._report.started_at
        self._writer = ReportWriter(context.run_dir, context.redactor)

    @pytest.hookimpl(optionalhook=True, trylast=True)
    def pytest_json_modifyreport(self, json_report: dict[str, Any]) -> None:
        session = self._config.stash.get(SESSION, None)
        result = session.result() if session is not None else None
        finish_report(
            self._report,
            self._writer,
            duration_s=time.monotonic() - self._started,
            result=result,
        )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self._writer.path.is_file():
            terminalreporter.write_line(f"recovery report: {self._writer.path}")


class JunitMasking:
    """Masks pytest's own ``--junit-xml`` of a gate session (written at session finish)."""

    def __init__(self, config: pytest.Config, context: RunContext) -> None:
        # Resolved as pytest's junitxml plugin resolves it, at configure time.
        self._path = Path(os.path.expandvars(str(config.option.xmlpath))).expanduser().absolute()
        self._context = context

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        from recovery_plugin.report.junit import mask_junit_file

        mask_junit_file(self._path, self._context.redactor)
