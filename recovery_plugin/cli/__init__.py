"""``recovery-bundle``: the operator's launcher (click).

Start-up stays light: pytest, httpx, tenacity and the simulated server are imported only by the
commands that use them (a test guards this), so ``--help`` and ``run --mode dry-run`` are fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

import click

from recovery_plugin import __version__
from recovery_plugin.cli import startup
from recovery_plugin.errors import ExitCode, RecoveryError

__all__ = ["cli", "main"]

_COMMANDS = {
    "run": "recovery_plugin.cli.run_commands",
    "verify": "recovery_plugin.cli.run_commands",
    "demo": "recovery_plugin.cli.sim_commands",
    "show": "recovery_plugin.cli.view_commands",
    "compare": "recovery_plugin.cli.view_commands",
    "history": "recovery_plugin.cli.view_commands",
    "sim": "recovery_plugin.cli.sim_commands",
}
"""Each command and the module that defines it: a command's module is imported only when that
command runs (or ``--help`` lists them all), so ``run`` does not load the viewers and the sim."""

_ENDS_ITS_OWN_START_UP = frozenset({"run", "verify"})
"""Commands that resume the collector themselves, once their run is resolved
(:mod:`recovery_plugin.cli.startup`); every other command starts with it running."""


class _LazyGroup(click.Group):
    """click's lazily loading group (see click's docs, "Lazily Loading Subcommands")."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = getattr(importlib.import_module(module), cmd_name)
        assert isinstance(command, click.Command)
        if cmd_name not in _ENDS_ITS_OWN_START_UP:
            startup.resume()
        return command


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="recovery-bundle")
def cli() -> None:
    """Ops recovery runbook harness: re-run ingest, reprocess matchups, verify the service.

    Dry-run first (the default), then apply. Every run leaves one report:
    <output-dir>/<run_id>/recovery_bundle_report.json.
    """


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: user errors are one line, never a traceback."""
    startup.pause()
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
    finally:
        startup.resume()  # main() called in a process that goes on (a test, a wrapper)


if __name__ == "__main__":  # pragma: no cover
    main()
