"""``run`` and ``verify``: flags to a run request, the run, its outcome to an exit code."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from recovery_plugin.cli.common import (
    EXIT_CODES_HELP,
    common_options,
    fail,
    matchup_options,
    setting_options,
)
from recovery_plugin.cli.startup import resume as resume_collector
from recovery_plugin.config.options import BASELINE_ENV, BASELINE_HELP, OPTIONS
from recovery_plugin.errors import RecoveryError

__all__ = ["finish", "run", "verify"]

_require_ids = click.option(
    "--require-ids",
    is_flag=True,
    help="Exit 2 when no matchup id is given or every step is skipped (else a warning).",
)


@click.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--mode",
    type=click.Choice(["dry-run", "apply"]),
    help="dry-run (the default) plans every step and executes nothing; apply runs them. With --resume: apply.",
)
@matchup_options
@click.option(
    "--poll-fingerprint", metavar="FP", help="Poll fingerprint passed to the reprocess step."
)
@setting_options("input", "jobs")
@click.option(
    "--continue-on-error", is_flag=True, help="Run later mutating steps even after one failed."
)
@click.option(
    "--canary",
    metavar="N|P%",
    help="Reprocess N ids (or P% of them) first, verify just those, and go on only if they pass.",
)
@click.option(
    "--batch-size",
    metavar="N|P%",
    help="Reprocess the (other) ids in batches of N (or P%), each verified before the next.",
)
@click.option(
    "--max-failures",
    metavar="N|P%",
    help="Stop starting reprocess steps once more than N (or P%) of them failed; the rest are skipped.",
)
@click.option("--skip-ingest", is_flag=True, help="Do not run the ingest step.")
@click.option("--skip-reprocess", is_flag=True, help="Do not run the reprocess steps.")
@click.option("--skip-capture", is_flag=True, help="Do not capture and verify the endpoints.")
@click.option(
    "--yes",
    "assume_yes",
    is_flag=True,
    help="Confirm an apply without being asked (needed without a terminal, e.g. in CI).",
)
@click.option(
    "--resume",
    "resume_from",
    type=click.Path(path_type=Path),
    metavar="RUN_DIR",
    help="Re-run only what failed, timed out, was skipped or interrupted in RUN_DIR (same config and ids); verify all.",
)
@_require_ids
@click.option(
    "--no-preflight",
    is_flag=True,
    help="Apply even when a step lacks a required variable, its executable or its script.",
)
@common_options
def run(**options: Any) -> None:
    """Run the recovery bundle: ingest, reprocess each matchup, then capture and verify."""
    mode = options["mode"] or ("apply" if options.get("resume_from") else "dry-run")
    _launch(mode, options)


@click.command(epilog=EXIT_CODES_HELP)
@matchup_options
@click.option(
    "--junit-xml",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write JUnit XML of the checks here.",
)
@_require_ids
@click.option(
    "--baseline",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="RUN_DIR",
    envvar=BASELINE_ENV,
    help=BASELINE_HELP,
)
@common_options
def verify(**options: Any) -> None:
    """Capture and verify the endpoints only (no step runs, nothing changes): the CI gate.

    Exit 0 when every check passes, 1 when the service is not healthy.
    """
    _launch("verify", options)


def _source(name: str, flag: str, env: str) -> str:
    """``flag``, or ``env NAME`` when click took the value from the environment."""
    context = click.get_current_context(silent=True)
    taken = context.get_parameter_source(name) if context is not None else None
    return f"env {env}" if taken is click.core.ParameterSource.ENVIRONMENT else flag


def _launch(mode: str, options: dict[str, Any]) -> None:
    from recovery_plugin.run.pipeline import RunRequest, execute, prepare

    flags = {option.name: options.get(option.name) for option in OPTIONS}
    request = RunRequest(
        mode=mode,  # type: ignore[arg-type]
        matchup_ids=tuple(options.get("matchup_ids") or ()),
        matchup_file=options.get("matchup_file"),
        resume_from=options.get("resume_from"),
        config_path=options.get("config_path"),
        flags=flags,
        poll_fingerprint=options.get("poll_fingerprint"),
        report_copy=options.get("report_copy"),
        continue_on_error=bool(options.get("continue_on_error")),
        skip_ingest=bool(options.get("skip_ingest")),
        skip_reprocess=bool(options.get("skip_reprocess")),
        skip_capture=bool(options.get("skip_capture")),
        junit_xml=options.get("junit_xml"),
        require_ids=bool(options.get("require_ids")),
        no_preflight=bool(options.get("no_preflight")),
        baseline=options.get("baseline"),
        baseline_source=_source("baseline", "--baseline", BASELINE_ENV),
        environ=dict(os.environ),
        canary=options.get("canary"),
        batch_size=options.get("batch_size"),
        max_failures=options.get("max_failures"),
    )
    as_json = bool(options.get("as_json"))
    from recovery_plugin.render.progress import Progress
    from recovery_plugin.run.pipeline import Prompt

    stream = sys.stderr if as_json else sys.stdout
    prompt = Prompt(sys.stdin, stream)
    yes = bool(options.get("assume_yes"))
    try:
        with Progress(stream) as progress:
            context = prepare(request)
            resume_collector()
            outcome = execute(context, progress.line, progress, yes=yes, prompt=prompt)
    except RecoveryError as exc:
        fail(exc)
    finish(outcome, as_json)


def finish(outcome: Any, as_json: bool) -> NoReturn:
    """Print the summary (and the report with ``--json``); exit with the run's own code, even
    when whoever read the output has gone away (``| head -1``): the report is on disk."""
    from recovery_plugin.render.progress import silence
    from recovery_plugin.render.summary import render_summary

    try:
        for line in render_summary(outcome.report, str(outcome.report_path)):
            click.echo(line, err=as_json)
        if as_json:
            click.echo(json.dumps(outcome.report, ensure_ascii=False, indent=2))
    except BrokenPipeError:
        silence(sys.stdout)
        silence(sys.stderr)
    _write_step_summary(outcome.report)
    sys.exit(outcome.exit_code)


def _write_step_summary(report: dict[str, Any]) -> None:
    """Append a Markdown summary for GitHub Actions when ``GITHUB_STEP_SUMMARY`` is set."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    from recovery_plugin.render.markdown import render_markdown

    try:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(render_markdown(report) + "\n")
    except OSError as exc:
        click.echo(
            f"warning: cannot append to GITHUB_STEP_SUMMARY {target}: {exc.strerror}", err=True
        )
