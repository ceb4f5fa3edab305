"""``show``, ``compare`` and ``history``: reading finished runs."""

from __future__ import annotations

import os
from pathlib import Path

import click

from recovery_plugin.cli.common import fail, setting_option
from recovery_plugin.errors import RecoveryError

__all__ = ["compare", "history", "show"]


@click.command()
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
        fail(exc)
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
        fail(RecoveryError(f"cannot write --output {output}: {exc.strerror or exc}"))
    click.echo(f"wrote {output}", err=True)


@click.command()
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
        fail(exc)
    click.echo(render_comparison(comparison, "json" if as_json else fmt), nl=False)


@click.command()
@setting_option("output_dir", summary="The output directory to list.")
def history(output_dir: str | None) -> None:
    """List the runs in an output directory, newest first."""
    from recovery_plugin.config import find_config_file, load_runbook
    from recovery_plugin.config.settings import resolve_option
    from recovery_plugin.render.views import list_runs, render_history

    try:
        runbook = load_runbook(find_config_file(Path.cwd()))
        value, _ = resolve_option("output_dir", runbook, flag=output_dir, environ=os.environ)
    except RecoveryError as exc:
        fail(exc)
    directory = Path(value)
    if not directory.is_dir():
        fail(RecoveryError(f"output directory not found: {directory}"))
    click.echo(render_history(list_runs(directory)), nl=False)
