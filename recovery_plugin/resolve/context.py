"""One run, resolved: :func:`resolve_run` turns a :class:`RunRequest` — from the CLI, or from a
plain ``pytest --recovery-*`` session's options — into one immutable :class:`RunContext`.

Everything that can be checked is checked here, before anything runs or is created: the
runbook, every option through its precedence chain, the ids, the output directory and every
step's argv. Both the launcher and the plugin's gate start from the same context.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import field, replace
from pathlib import Path
from typing import Any, Literal

from recovery_plugin.clock import new_run_id, now_iso
from recovery_plugin.config import CaptureSpec, Runbook, find_config_file, load_runbook
from recovery_plugin.config.notify import required_env as notify_env
from recovery_plugin.config.settings import Settings, resolve_settings
from recovery_plugin.errors import ConfigError
from recovery_plugin.http.expectations import check_runbook
from recovery_plugin.ids import read_matchup_file
from recovery_plugin.names import CAPTURE_NAME
from recovery_plugin.records import dataclass
from recovery_plugin.redact import Redactor, find_secrets, url_secrets
from recovery_plugin.report.writer import Report
from recovery_plugin.resolve.inputs import (
    absolute,
    check_output_dir,
    check_resumed_ids,
    dedupe_ids,
    load_resumed_report,
    output_file_path,
    report_copy_path,
)
from recovery_plugin.resolve.plan import PlanInputs, PlannedStep, plan_steps
from recovery_plugin.resolve.preflight import enforce_preflight, preflight_problems

__all__ = ["Mode", "RunContext", "RunRequest", "baseline_capture", "prepare", "resolve_run"]

Mode = Literal["dry-run", "apply", "verify"]


@dataclass(frozen=True)
class RunRequest:
    """What was asked for, as given: flags by option name (``None`` = not given)."""

    mode: Mode
    matchup_ids: Sequence[str] = ()
    matchup_file: Path | None = None
    resume_from: Path | None = None
    config_path: Path | None = None
    flags: Mapping[str, Any] = field(default_factory=dict)
    poll_fingerprint: str | None = None
    report_copy: Path | None = None
    continue_on_error: bool = False
    skip_ingest: bool = False
    skip_reprocess: bool = False
    skip_capture: bool = False
    junit_xml: Path | None = None
    cwd: Path = field(default_factory=Path.cwd)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    ini: Mapping[str, tuple[str, Any]] | None = None
    """pytest ini values (the plugin's gate): ``name -> (ini key, value)``."""
    plugin: bool = False
    """The flags are the plugin's: errors name them as ``--recovery-*``."""
    ids_source: str | None = None
    """Where the ids came from, when not ``--matchup-id`` (for error messages)."""
    require_ids: bool = False
    no_preflight: bool = False
    """``--no-preflight``: apply even when a step lacks what it needs (recorded in the report)."""
    """``--require-ids``: no id, or every step skipped, is an error rather than a warning."""
    keeps_report: bool = True
    """False for a plain pytest gate without an output directory: no run directory, no report."""
    canary: str | None = None
    """``--canary N|P%``: reprocess these ids first, verify them, go on only if they pass."""
    batch_size: str | None = None
    """``--batch-size N|P%``: reprocess the rest in batches, each verified before the next."""
    max_failures: str | None = None
    """``--max-failures N|P%``: stop scheduling reprocess steps once more than this failed."""
    baseline: Path | None = None
    """``verify --baseline RUN_DIR``: an earlier run whose capture the effect checks compare with."""
    baseline_source: str = "--baseline"
    """Where ``baseline`` came from, for its errors (``env RECOVERY_BASELINE``...)."""


@dataclass(frozen=True)
class RunContext:
    """Everything one run needs, decided up front. Nothing in it changes while the run runs."""

    request: RunRequest
    runbook: Runbook
    settings: Settings
    matchup_ids: tuple[str, ...]
    run_id: str
    run_dir: Path
    step_env: Mapping[str, str]
    redactor: Redactor
    preflight: Mapping[str, bool]
    unmasked_secrets: tuple[str, ...]
    """Secret variables too short or too common to mask: where each is set, and why."""
    preflight_problems: tuple[str, ...]
    """What a step that will run lacks (a variable, its executable, its script)."""
    warnings: tuple[str, ...]
    plan: tuple[PlannedStep, ...]
    previous: Mapping[str, Any] | None = None
    """The report of the run being resumed (``--resume``)."""
    report_copy: Path | None = None
    """``--report``: where a copy of the report goes (its directory exists)."""

    @property
    def mode(self) -> Mode:
        return self.request.mode

    @property
    def capture_spec(self) -> CaptureSpec:
        """The runbook's capture settings with the resolved timeout."""
        return replace(self.runbook.capture, timeout=self.settings.capture_timeout)

    @property
    def check_count(self) -> int:
        ids = len(self.matchup_ids)
        return sum(ids if e.per_matchup else 1 for e in self.runbook.endpoints)

    def start_report(self) -> Report:
        """The run's report as it stands before any step: every planned step, nothing run."""
        return Report(
            run_id=self.run_id,
            mode=self.mode,
            api_base=self.settings.api_base,
            output_dir=str(self.settings.output_dir),
            run_dir=str(self.run_dir),
            started_at=now_iso(),
            matchup_ids=list(self.matchup_ids),
            poll_fingerprint=self.request.poll_fingerprint,
            config_source=self.runbook.source,
            config_path=str(self.runbook.path) if self.runbook.path else None,
            lang=self.settings.lang,
            preflight=dict(self.preflight),
            unmasked_secrets=list(self.unmasked_secrets),
            warnings=list(self.warnings),
            preflight_problems=list(self.preflight_problems),
            preflight_overridden=self.request.no_preflight and bool(self.preflight_problems),
            steps=[step.record(self.mode) for step in self.plan],
            resumed_from=str(self.previous.get("run_dir")) if self.previous else None,
        )


def _check_baseline(run_dir: Path, source: str) -> None:
    if not (run_dir / CAPTURE_NAME).is_file():
        raise ConfigError(
            f"{source}: no {CAPTURE_NAME} in {run_dir} (give an earlier run's directory)"
        )


def baseline_capture(context: RunContext) -> Path | None:
    """The capture the effect checks compare with: ``--baseline``'s, else none."""
    if context.request.baseline is None:
        return None
    return absolute(context.request.baseline, context.request.cwd) / CAPTURE_NAME


def resolve_run(request: RunRequest) -> RunContext:
    """Validate everything that can be validated before anything runs; raise RecoveryError."""
    previous = None
    if request.resume_from is not None:
        previous = load_resumed_report(request.resume_from, request.cwd, request.mode)
        request = _resumed_request(request, previous, request.resume_from)
    runbook = load_runbook(_config_path(request))
    check_runbook(runbook, compile_paths=request.mode != "dry-run")
    if request.baseline is not None:
        _check_baseline(absolute(request.baseline, request.cwd), request.baseline_source)
    settings = resolve_settings(
        runbook,
        flags=request.flags,
        environ=request.environ,
        ini=request.ini,
        plugin=request.plugin,
    )
    if settings.checks_dir is not None and not absolute(settings.checks_dir, request.cwd).is_dir():
        raise ConfigError(
            f"checks directory not found: {settings.checks_dir} (from {settings.sources['checks_dir']})"
        )
    raw_ids = list(request.matchup_ids)
    if request.matchup_file is not None:
        raw_ids += read_matchup_file(absolute(request.matchup_file, request.cwd))
    ids, warnings = dedupe_ids(raw_ids, request.ids_source)
    if previous is not None and request.resume_from is not None:
        check_resumed_ids(ids, previous, request.resume_from)
    if request.poll_fingerprint is not None and not request.poll_fingerprint.strip():
        raise ConfigError("--poll-fingerprint is empty")
    step_env = {**request.environ, **runbook.env}
    secrets = find_secrets(
        {
            "environment": request.environ,
            "env": runbook.env,
            **{f"steps.{name}.env": spec.env for name, spec in runbook.steps.items()},
        },
        # The webhooks' {env:NAME} values are secrets wherever they would appear.
        (*runbook.secret_env, *notify_env(runbook.notify)),
    )
    output_dir = absolute(settings.output_dir, request.cwd)
    output_file_path(request.junit_xml, request.cwd, "--junit-xml")
    if request.keeps_report:
        check_output_dir(output_dir, settings.sources["output_dir"])
    run_id = new_run_id()
    run_dir = output_dir / run_id
    plan = plan_steps(
        runbook,
        PlanInputs(
            mode=request.mode,
            api_base=settings.api_base,
            input=settings.input,
            matchup_ids=ids,
            poll_fingerprint=request.poll_fingerprint,
            run_dir=run_dir,
            skip_ingest=request.skip_ingest,
            skip_reprocess=request.skip_reprocess,
            skip_capture=request.skip_capture,
            previous=previous,
        ),
    )
    warnings += _nothing_to_do(request, runbook, ids, plan)
    problems = preflight_problems(runbook, plan, step_env, request.cwd)
    enforce_preflight(problems, mode=request.mode, overridden=request.no_preflight)
    warnings += [f"preflight: {problem}" for problem in problems]
    return RunContext(
        request=request,
        runbook=runbook,
        settings=replace(settings, output_dir=output_dir),
        matchup_ids=tuple(ids),
        run_id=run_id,
        run_dir=run_dir,
        step_env=step_env,
        redactor=Redactor([*(s.value for s in secrets), *url_secrets(settings.api_base)]),
        preflight={name: bool(step_env.get(name)) for name in runbook.required_env},
        preflight_problems=tuple(problems),
        unmasked_secrets=tuple(
            f"{s.where}: not masked: {s.unmaskable}" for s in secrets if s.unmaskable
        ),
        warnings=tuple(warnings),
        plan=plan,
        previous=previous,
        report_copy=report_copy_path(request.report_copy, request.cwd),
    )


prepare = resolve_run
"""The name this function was exported under before the run context existed."""


def _nothing_to_do(
    request: RunRequest, runbook: Runbook, ids: Sequence[str], plan: Sequence[PlannedStep]
) -> list[str]:
    """A run given no id, or whose every step is skipped: warnings, or (``--require-ids``,
    ``require_ids = true``) a ConfigError."""
    problems = []
    if not ids:
        problems.append("no matchup id given: no matchup is reprocessed or checked")
    if plan and all(step.skip_reason is not None for step in plan):
        problems.append("every step is skipped: this run does nothing")
    if problems and (request.require_ids or runbook.require_ids):
        why = "--require-ids" if request.require_ids else f"require_ids = true in {runbook.source}"
        raise ConfigError(f"{'; '.join(problems)} (an error because of {why})")
    return [f"warning: {problem}" for problem in problems]


def _config_path(request: RunRequest) -> Path | None:
    """``--config``, else env ``RECOVERY_CONFIG``, else ``recovery.toml`` / ``pyproject.toml``."""
    path = request.config_path
    if path is None and request.environ.get("RECOVERY_CONFIG"):
        path = Path(request.environ["RECOVERY_CONFIG"])
    if path is None:
        return find_config_file(request.cwd)
    return absolute(path, request.cwd)


def _resumed_request(
    request: RunRequest, previous: Mapping[str, Any], resume_from: Path
) -> RunRequest:
    """The same ids, service and output directory as the resumed run, unless given again.

    Nothing in the report is trusted to run: the config is resolved as for any run and must be
    the one the report names; a masked api_base is never sent; the run goes beside the resumed
    one (so it takes that directory's lock and ``history`` finds it).
    """
    shown = resume_from
    flags = dict(request.flags)
    output_dir = absolute(resume_from, request.cwd).parent
    given_dir = flags.get("output_dir")
    if given_dir is not None and absolute(Path(given_dir), request.cwd).resolve() != (
        output_dir.resolve()
    ):
        raise ConfigError(
            f"--resume {shown} runs in its own output directory {output_dir},"
            f" not --output-dir {given_dir}"
        )
    flags["output_dir"] = str(output_dir)
    if flags.get("api_base") is None:
        if "***" in previous["api_base"]:
            raise ConfigError(
                f"--resume {shown}: the report's api_base is masked ({previous['api_base']});"
                " give --api-base again"
            )
        flags["api_base"] = previous["api_base"]
    _check_same_config(request, previous.get("config_path"), resume_from)
    return replace(
        request,
        flags=flags,
        matchup_ids=list(request.matchup_ids) or list(previous["matchup_ids"]),
        poll_fingerprint=request.poll_fingerprint or previous["poll_fingerprint"],
    )


def _check_same_config(request: RunRequest, recorded: str | None, resume_from: Path) -> None:
    """The config this run resolves (--config, RECOVERY_CONFIG, discovery) is the resumed run's."""
    resolved = _config_path(request)
    same = (resolved is None and recorded is None) or (
        resolved is not None
        and recorded is not None
        and resolved.resolve() == absolute(Path(recorded), request.cwd).resolve()
    )
    if not same:
        ours = resolved or "the built-in default profile"
        theirs = recorded or "the built-in default profile"
        raise ConfigError(
            f"--resume {resume_from}: the resumed run used config {theirs}, this run"
            f" resolves {ours} (--config, RECOVERY_CONFIG, recovery.toml); give --config"
            " for the config you mean to run"
        )
