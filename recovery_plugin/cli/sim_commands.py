"""``demo`` and ``sim serve``: the built-in simulated service."""

from __future__ import annotations

import os
from pathlib import Path

import click

from recovery_plugin.cli.common import console, fail, work_dir_option
from recovery_plugin.cli.run_commands import finish
from recovery_plugin.errors import RecoveryError

__all__ = ["demo", "sim"]


@click.command()
@work_dir_option(
    "--output-dir", "recovery-demo", "Where the demo's run directory and simulated service data go."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def demo(output_dir: Path, as_json: bool) -> None:
    """Start the built-in simulated service, run the full apply flow against it, stop it."""
    from recovery_plugin.demo import run_demo

    try:
        outcome = run_demo(output_dir, console=console(as_json))
    except RecoveryError as exc:
        fail(exc)
    finish(outcome, as_json)


@click.group()
def sim() -> None:
    """The simulated election-poll service (the built-in default target)."""


@sim.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8100, show_default=True)
@work_dir_option("--data-dir", "sim-data", "SQLite database and logs.")
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
        fail(RecoveryError(str(exc)))
    except OSError as exc:
        fail(RecoveryError(f"cannot serve on {host}:{port}: {exc.strerror or exc}"))
