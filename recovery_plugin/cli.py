"""``recovery-bundle``: the operator's launcher (click).

Start-up stays light: pytest, httpx, tenacity and the simulated server are imported only by the
commands that use them (a test guards this), so ``--help`` and ``run --mode dry-run`` are fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from recovery_plugin import __version__
from recovery_plugin.config.options import OPTIONS, Option, config_help, option_named
from recovery_plugin.errors import ExitCode, RecoveryError

__all__ = ["cli", "main"]

_F = TypeVar("_F", bound=Callable[..., Any])

EXIT_CODES_HELP = (
    "Exit codes: 0 success or dry-run; 1 a step or check failed; 2 usage or configuration error;"
    " 75 output directory locked by another apply; 130 interrupted (SIGINT); 143 terminated (SIGTERM)."
)


def _fail(error: RecoveryError) -> NoReturn:
    """Print ``recovery-bundle: error: ...`` (one line, secrets and credentials masked) and exit
    with the error's documented code."""
    from recovery_plugin.redact import DEFAULT_SECRET_ENV, Redactor, find_secrets

    # The message may quote a bad value: the environment's secrets are masked in it too.
    secrets = find_secrets({"environment": os.environ}, DEFAULT_SECRET_ENV)
    redactor = Redactor(secret.value for secret in secrets)
    click.echo(f"recovery-bundle: error: {redactor.text(error.message)}", err=True)
    sys.exit(int(error.exit_code))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="recovery-bundle")
def cli() -> None:
    """Ops recovery runbook harness: re-run ingest, reprocess matchups, verify the service.

    Dry-run first (the default), then apply. Every run leaves one report:
    <output-dir>/<run_id>/recovery_bundle_report.json.
    """


def _matchup_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--matchup-file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="File of matchup ids: one per line (# comments, blank lines ignored) or a JSON list.",
    )(func)
    func = click.option(
        "--matchup-id",
        "matchup_ids",
        multiple=True,
        metavar="ID",
        help="Matchup id (YYYYMMDD|office type|region code); repeatable.",
    )(func)
    return func


class _SettingOption(click.Option):
    """A value option from the option table. Its help is rendered when shown, so the default
    it names is the built-in profile's at that moment, never a copy."""

    def __init__(self, *args: Any, setting: Option, summary: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setting = setting
        self.summary = summary

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = self.setting.help_text(self.summary)
        return super().get_help_record(ctx)


def _setting_option(name: str, summary: str | None = None) -> Callable[[_F], _F]:
    """The click option of the table row ``name``; its value is parsed by ``resolve_settings``
    (so an error names the flag), only a fixed set of choices is checked by click."""
    setting = option_named(name)
    return click.option(
        setting.flag,
        setting.name,
        cls=_SettingOption,
        setting=setting,
        summary=summary,
        metavar=None if setting.choices else setting.metavar,
        type=click.Choice(setting.choices) if setting.choices else None,
    )


def _setting_options(*names: str) -> Callable[[_F], _F]:
    def decorate(func: _F) -> _F:
        for name in reversed(names):
            func = _setting_option(name)(func)
        return func

    return decorate


def _common_options(func: _F) -> _F:
    options = [
        _setting_option("api_base"),
        click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path, dir_okay=False),
            help=config_help("Runbook TOML."),
        ),
        _setting_option("output_dir"),
        click.option(
            "--report",
            "report_copy",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Also write the report to this path.",
        ),
        _setting_options("capture_timeout", "checks_dir", "lang"),
        click.option(
            "--json",
            "as_json",
            is_flag=True,
            help="Print the report as JSON on stdout (progress goes to stderr).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@cli.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--mode",
    type=click.Choice(["dry-run", "apply"]),
    help="dry-run (the default) plans every step and executes nothing; apply runs them. With --resume: apply.",
)
@_matchup_options
@click.option(
    "--poll-fingerprint", metavar="FP", help="Poll fingerprint passed to the reprocess step."
)
@_setting_options("input", "jobs")
@click.option(
    "--continue-on-error", is_flag=True, help="Run later mutating steps even after one failed."
)
@click.option("--skip-ingest", is_flag=True, help="Do not run the ingest step.")
@click.option("--skip-reprocess", is_flag=True, help="Do not run the reprocess steps.")
@click.option("--skip-capture", is_flag=True, help="Do not capture and verify the endpoints.")
@click.option(
    "--resume",
    "resume_from",
    type=click.Path(path_type=Path),
    metavar="RUN_DIR",
    help="Re-run only what failed, timed out, was skipped or interrupted in RUN_DIR (same config and ids); verify all.",
)
@_common_options
def run(**options: Any) -> None:
    """Run the recovery bundle: ingest, reprocess each matchup, then capture and verify."""
    mode = options["mode"] or ("apply" if options.get("resume_from") else "dry-run")
    _launch(mode, options)


@cli.command(epilog=EXIT_CODES_HELP)
@_matchup_options
@click.option(
    "--junit-xml",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write JUnit XML of the checks here.",
)
@_common_options
def verify(**options: Any) -> None:
    """Capture and verify the endpoints only (no step runs, nothing changes): the CI gate.

    Exit 0 when every check passes, 1 when the service is not healthy.
    """
    _launch("verify", options)


def _work_dir_option(flag: str, default: str, summary: str) -> Callable[[_F], _F]:
    """A directory the command creates (not a setting: no env var, no config key)."""
    return click.option(
        flag,
        type=click.Path(path_type=Path, file_okay=False),
        default=Path(default),
        show_default=True,
        help=summary,
    )


@cli.command()
@_work_dir_option(
    "--output-dir", "recovery-demo", "Where the demo's run directory and simulated service data go."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def demo(output_dir: Path, as_json: bool) -> None:
    """Start the built-in simulated service, run the full apply flow against it, stop it."""
    from recovery_plugin.demo import run_demo

    try:
        outcome = run_demo(output_dir, console=_console(as_json))
    except RecoveryError as exc:
        _fail(exc)
    _finish(outcome, as_json)


@cli.command()
@click.argument("target", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "html"]),
    default="text",
    show_default=True,
    help="text for the terminal, markdown for an incident ticket, html for one self-contained page.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to a file instead of stdout.",
)
def show(target: Path, fmt: str, output: Path | None) -> None:
    """Show a finished run: TARGET is a run directory or a report file."""
    from recovery_plugin.render.views import load_report, render_html, render_text

    try:
        report, report_path = load_report(target)
    except RecoveryError as exc:
        _fail(exc)
    if fmt == "html":
        text = render_html(report, report_path.parent)
    elif fmt == "markdown":
        from recovery_plugin.render.markdown import render_markdown

        text = render_markdown(report)
    else:
        text = render_text(report)
    if output is None:
        click.echo(text, nl=False)
        return
    from recovery_plugin.atomic import write_text_atomic

    try:
        write_text_atomic(output, text)
    except OSError as exc:
        _fail(RecoveryError(f"cannot write --output {output}: {exc.strerror or exc}"))
    click.echo(f"wrote {output}", err=True)


@cli.command()
@click.argument("run_a", metavar="RUN_A", type=click.Path(path_type=Path))
@click.argument("run_b", metavar="RUN_B", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="text for the terminal, markdown for an incident ticket.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON on stdout.")
def compare(run_a: Path, run_b: Path, fmt: str, as_json: bool) -> None:
    """Compare two runs (run directories or report files): steps and checks that changed
    outcome, captured values that changed, duration changes. Exit 0 once compared."""
    from recovery_plugin.render.compare import compare_run_dirs
    from recovery_plugin.render.compare_views import render_comparison

    try:
        comparison = compare_run_dirs(run_a, run_b)
    except RecoveryError as exc:
        _fail(exc)
    click.echo(render_comparison(comparison, "json" if as_json else fmt), nl=False)


@cli.command()
@_setting_option("output_dir", summary="The output directory to list.")
def history(output_dir: str | None) -> None:
    """List the runs in an output directory, newest first."""
    from recovery_plugin.config import find_config_file, load_runbook
    from recovery_plugin.config.settings import resolve_option
    from recovery_plugin.render.views import list_runs, render_history

    try:
        runbook = load_runbook(find_config_file(Path.cwd()))
        value, _ = resolve_option("output_dir", runbook, flag=output_dir, environ=os.environ)
    except RecoveryError as exc:
        _fail(exc)
    directory = Path(value)
    if not directory.is_dir():
        _fail(RecoveryError(f"output directory not found: {directory}"))
    click.echo(render_history(list_runs(directory)), nl=False)


@cli.group()
def sim() -> None:
    """The simulated election-poll service (the built-in default target)."""


@sim.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8100, show_default=True)
@_work_dir_option("--data-dir", "sim-data", "SQLite database and logs.")
@click.option(
    "--faults",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Fault-injection file (JSON or TOML).",
)
@click.option(
    "--token",
    envvar="INTERNAL_JOB_TOKEN",
    help="Bearer token of the ingest job endpoint. [env INTERNAL_JOB_TOKEN]",
)
def sim_serve(host: str, port: int, data_dir: Path, faults: Path | None, token: str | None) -> None:
    """Serve the simulated service until interrupted."""
    from recovery_plugin.sim.server import ServeError, serve

    if not token:
        token = "sim-" + os.urandom(8).hex()
        click.echo(
            f"no INTERNAL_JOB_TOKEN given: the ingest job endpoint takes the generated token {token}"
            " (export INTERNAL_JOB_TOKEN with it for the ingest command)",
            err=True,
        )
    click.echo(f"data: {data_dir}; Ctrl-C stops the service", err=True)
    try:
        serve(host=host, port=port, data_dir=data_dir, faults_path=faults, token=token)
    except KeyboardInterrupt:
        pass
    except ServeError as exc:
        _fail(RecoveryError(str(exc)))
    except OSError as exc:
        _fail(RecoveryError(f"cannot serve on {host}:{port}: {exc.strerror or exc}"))


def _console(as_json: bool) -> Callable[[str], None]:
    def echo(line: str) -> None:
        click.echo(line, err=as_json)

    return echo


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
        environ=dict(os.environ),
    )
    as_json = bool(options.get("as_json"))
    from recovery_plugin.render.progress import Progress

    try:
        with Progress(sys.stderr if as_json else sys.stdout) as progress:
            outcome = execute(prepare(request), progress.line, progress)
    except RecoveryError as exc:
        _fail(exc)
    _finish(outcome, as_json)


def _finish(outcome: Any, as_json: bool) -> NoReturn:
    from recovery_plugin.render.summary import render_summary

    for line in render_summary(outcome.report, str(outcome.report_path)):
        click.echo(line, err=as_json)
    if as_json:
        click.echo(json.dumps(outcome.report, ensure_ascii=False, indent=2))
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


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: user errors are one line, never a traceback."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="recovery-bundle")
    except (
        RecoveryError
    ) as exc:  # raised outside a command (should not happen, but never a traceback)
        click.echo(f"recovery-bundle: error: {exc.message}", err=True)
        sys.exit(int(exc.exit_code))
    except Exception as exc:  # a bug: say so in one line; RECOVERY_DEBUG=1 shows the traceback
        if os.environ.get("RECOVERY_DEBUG"):
            raise
        click.echo(
            f"recovery-bundle: internal error: {type(exc).__name__}: {exc}"
            " (set RECOVERY_DEBUG=1 for the traceback)",
            err=True,
        )
        sys.exit(int(ExitCode.FAILED))


if __name__ == "__main__":  # pragma: no cover
    main()
