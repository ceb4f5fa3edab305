"""What the launcher's commands share: the one-line error exit, the option decorators built
from the option table, the console."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from recovery_plugin.config.options import Option, config_help, option_named
from recovery_plugin.errors import RecoveryError

_F = TypeVar("_F", bound=Callable[..., Any])

EXIT_CODES_HELP = (
    "Exit codes: 0 success or dry-run; 1 a step or check failed; 2 usage or configuration error;"
    " 74 a file of the run could not be written (disk full);"
    " 75 output directory locked by another apply; 130 interrupted (SIGINT); 143 terminated (SIGTERM)."
)


def fail(error: RecoveryError) -> NoReturn:
    """Print ``recovery-bundle: error: ...`` (one line, secrets and credentials masked) and exit
    with the error's documented code."""
    from recovery_plugin.redact import DEFAULT_SECRET_ENV, Redactor, find_secrets

    # The message may quote a bad value: the environment's secrets are masked in it too.
    secrets = find_secrets({"environment": os.environ}, DEFAULT_SECRET_ENV)
    redactor = Redactor(secret.value for secret in secrets)
    click.echo(f"recovery-bundle: error: {redactor.text(error.message)}", err=True)
    sys.exit(int(error.exit_code))


def matchup_options(func: Callable[..., Any]) -> Callable[..., Any]:
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


class SettingOption(click.Option):
    """A value option from the option table. Its help is rendered when shown, so the default
    it names is the built-in profile's at that moment, never a copy."""

    def __init__(self, *args: Any, setting: Option, summary: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setting = setting
        self.summary = summary

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = self.setting.help_text(self.summary)
        return super().get_help_record(ctx)


def setting_option(name: str, summary: str | None = None) -> Callable[[_F], _F]:
    """The click option of the table row ``name``; its value is parsed by ``resolve_settings``
    (so an error names the flag), only a fixed set of choices is checked by click."""
    setting = option_named(name)
    return click.option(
        setting.flag,
        setting.name,
        cls=SettingOption,
        setting=setting,
        summary=summary,
        metavar=None if setting.choices else setting.metavar,
        type=click.Choice(setting.choices) if setting.choices else None,
    )


def setting_options(*names: str) -> Callable[[_F], _F]:
    def decorate(func: _F) -> _F:
        for name in reversed(names):
            func = setting_option(name)(func)
        return func

    return decorate


def common_options(func: _F) -> _F:
    options = [
        setting_option("api_base"),
        click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path, dir_okay=False),
            help=config_help("Runbook TOML."),
        ),
        setting_option("output_dir"),
        click.option(
            "--report",
            "report_copy",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Also write the report to this path.",
        ),
        setting_options("capture_timeout", "checks_dir", "lang"),
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


def work_dir_option(flag: str, default: str, summary: str) -> Callable[[_F], _F]:
    """A directory the command creates (not a setting: no env var, no config key)."""
    return click.option(
        flag,
        type=click.Path(path_type=Path, file_okay=False),
        default=Path(default),
        show_default=True,
        help=summary,
    )


def console(as_json: bool) -> Callable[[str], None]:
    def echo(line: str) -> None:
        click.echo(line, err=as_json)

    return echo
