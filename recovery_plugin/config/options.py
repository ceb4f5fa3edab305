"""The option table: every value option once, for the launcher, the pytest plugin and the docs.

A row of :data:`OPTIONS` is a setting resolved by :func:`~recovery_plugin.config.settings.
resolve_settings`: its launcher flag, environment variable, runbook key, parser, and its pytest
plugin flag with the ini twin where the plugin has one. Help texts end in a generated
``[env X; config Y; default Z]`` suffix whose default is read from the built-in profile when the
help is shown, so it cannot drift from :func:`~recovery_plugin.config.default_runbook`.

The launcher turns the rows into click options, the plugin into ``addoption``/``addini`` calls
(:func:`plugin_flags`, which adds the plugin's options that are not settings). Nothing here
imports click or pytest.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from recovery_plugin.records import dataclass

if TYPE_CHECKING:
    from recovery_plugin.config import Runbook

__all__ = [
    "BASELINE_ENV",
    "BASELINE_HELP",
    "CONFIG_ENV",
    "OPTIONS",
    "Option",
    "PluginFlag",
    "PluginTwin",
    "config_help",
    "format_default",
    "option_named",
    "parse_api_base",
    "plugin_flags",
]

Number = TypeVar("Number", int, float)


def parse_api_base(value: Any) -> str:
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("has no host")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValueError("has a malformed port") from None
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    return text.rstrip("/")


def _positive(
    convert: Callable[[Any], Number], kind: str, too_small: str
) -> Callable[[Any], Number]:
    """A parser of numbers above zero; ``True``/``False`` are not numbers here."""

    def parse(value: Any) -> Number:
        if isinstance(value, bool):
            raise ValueError(f"must be {kind}")
        try:
            number = convert(value)
        except (TypeError, ValueError):
            raise ValueError(f"must be {kind}") from None
        if not number > 0:  # also rejects NaN
            raise ValueError(too_small)
        return number

    return parse


def _one_of(*choices: str) -> Callable[[Any], str]:
    expected = " or ".join(repr(choice) for choice in choices)

    def parse(value: Any) -> str:
        text = str(value)
        if text not in choices:
            raise ValueError(f"must be {expected}")
        return text

    return parse


def _path_text(value: Any) -> str:
    text = str(value)
    if not text.strip():
        raise ValueError("must not be empty")
    return text


LANGUAGES = ("en", "ko")


def format_default(value: Any) -> str | None:
    """A profile value as help text shows it (``10.0`` -> ``10``); ``None`` when there is none."""
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class PluginTwin:
    """The pytest plugin's flag and ini key for a setting."""

    flag: str
    ini: str
    summary: str | None = None
    """The plugin's own wording, when it differs from the launcher's."""
    enables: bool = False
    """The flag or ini value turns the plugin on; the environment variable only overrides it."""


@dataclass(frozen=True)
class Option:
    """One setting: where it can be given, how it is parsed, and its default.

    The launcher flag is ``--`` + the name with dashes; the runbook key (dotted) is the name
    unless ``file_key`` says otherwise, and the value is read from the runbook at that key.
    """

    name: str
    metavar: str
    summary: str
    env: str
    parse: Callable[[Any], Any]
    file_key: str = ""
    choices: tuple[str, ...] = ()
    plugin: PluginTwin | None = None

    def __post_init__(self) -> None:
        if not self.file_key:
            object.__setattr__(self, "file_key", self.name)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def from_runbook(self, runbook: Runbook) -> Any:
        """The value in ``runbook``; the built-in profile's is the default."""
        return attrgetter(self.file_key)(runbook)

    def default(self) -> Any:
        # Looked up on each call: help shows the profile's defaults as they are when it is shown.
        from recovery_plugin.config import default_runbook

        return self.from_runbook(default_runbook())

    def help_text(self, summary: str | None = None) -> str:
        """The launcher's help: ``summary [env X; config Y; default Z]``."""
        return self._with_sources(summary or self.summary, f"config {self.file_key}")

    def plugin_help_text(self) -> str:
        """The plugin flag's help (``plugin`` must be set)."""
        assert self.plugin is not None
        summary = self.plugin.summary or self.summary
        if self.plugin.enables:
            return (
                f"{summary} [ini {self.plugin.ini}; env {self.env} overrides the ini value"
                " but does not enable the plugin]"
            )
        return self._with_sources(summary, f"ini {self.plugin.ini}", f"runbook {self.file_key}")

    def _with_sources(self, summary: str, *sources: str) -> str:
        parts = [f"env {self.env}", *sources]
        default = format_default(self.default())
        if default is not None:
            parts.append(f"default {default}")
        return f"{summary} [{'; '.join(parts)}]"


_BASE_URL_TWIN = PluginTwin(
    "--recovery-base-url",
    "recovery_base_url",
    summary="Check this service's endpoints (the flag or the ini value enables the plugin).",
    enables=True,
)
_CAPTURE_TIMEOUT_TWIN = PluginTwin("--recovery-capture-timeout", "recovery_capture_timeout")
_WHOLE = _positive(int, "a whole number", "must be at least 1")
_SECONDS = _positive(float, "a number of seconds", "must be greater than 0")

# fmt: off
OPTIONS: tuple[Option, ...] = (
    Option("api_base", "URL", "Base URL of the service.", "API_BASE_URL", parse_api_base,
           plugin=_BASE_URL_TWIN),
    Option("output_dir", "DIR", "Where run directories go.", "RECOVERY_OUTPUT_DIR", _path_text),
    Option("input", "PATH", "Ingest input file.", "RECOVERY_INPUT", _path_text),
    Option("jobs", "N", "Reprocess steps run concurrently.", "RECOVERY_JOBS", _WHOLE),
    Option("lang", "LANG", "Checklist language.", "RECOVERY_LANG", _one_of(*LANGUAGES),
           choices=LANGUAGES),
    Option("capture_timeout", "SECONDS", "Timeout of each endpoint request.",
           "RECOVERY_CAPTURE_TIMEOUT", _SECONDS, file_key="capture.timeout",
           plugin=_CAPTURE_TIMEOUT_TWIN),
    Option("checks_dir", "DIR", "Extra pytest files to run in the verification session.",
           "RECOVERY_CHECKS_DIR", _path_text),
)
# fmt: on


def option_named(name: str) -> Option:
    for option in OPTIONS:
        if option.name == name:
            return option
    raise KeyError(f"no option {name!r} (options: {', '.join(o.name for o in OPTIONS)})")


# --- where the runbook comes from (not a setting: it decides where the settings' file is) -----

CONFIG_ENV = "RECOVERY_CONFIG"
_CONFIG_DISCOVERY = (
    "./recovery.toml or [tool.recovery_bundle] in ./pyproject.toml; else the built-in profile"
)


def config_help(summary: str) -> str:
    return f"{summary} [env {CONFIG_ENV}; default {_CONFIG_DISCOVERY}]"


BASELINE_ENV = "RECOVERY_BASELINE"
BASELINE_HELP = (
    "An earlier run directory: expect_changed/expect_unchanged compare with its api_capture.json"
    f" [env {BASELINE_ENV}]."
)


# --- the pytest plugin's options -------------------------------------------------------------


@dataclass(frozen=True)
class PluginFlag:
    """A ``--recovery-*`` option of the pytest plugin and its ini twin (``dest`` is the ini key)."""

    flag: str
    ini: str
    metavar: str
    help: str
    ini_help: str
    repeatable: bool = False
    """The flag may be given more than once; the ini value is a list, one per line."""
    setting: str | None = None
    """The :data:`OPTIONS` row it feeds, or ``None`` when the plugin reads it itself."""

    @property
    def dest(self) -> str:
        return self.ini


def _twin(name: str) -> PluginFlag:
    option = option_named(name)
    assert option.plugin is not None
    return PluginFlag(
        flag=option.plugin.flag,
        ini=option.plugin.ini,
        metavar=option.metavar,
        help=option.plugin_help_text(),
        ini_help=f"{option.plugin.summary or option.summary}"
        f" [twin of {option.plugin.flag}; env {option.env} overrides it]",
        setting=option.name,
    )


def plugin_flags() -> tuple[PluginFlag, ...]:
    """Every option of the plugin, in help order (help texts rendered from the profile now)."""
    return (
        _twin("api_base"),
        PluginFlag(
            flag="--recovery-matchup-id",
            ini="recovery_matchup_ids",
            metavar="ID",
            help="A matchup id to check (repeatable; the flags replace the ini list).",
            ini_help="Matchup ids to check, one per line.",
            repeatable=True,
        ),
        PluginFlag(
            flag="--recovery-config",
            ini="recovery_config",
            metavar="PATH",
            help=config_help("Runbook TOML giving the endpoints and expectations."),
            ini_help="Runbook TOML with the endpoints and expectations (relative to the ini file).",
        ),
        PluginFlag(
            flag="--recovery-output-dir",
            ini="recovery_output_dir",
            metavar="DIR",
            help="Write api_capture.json and a verify-mode report into a new run directory here.",
            ini_help="Directory for captures and the verify-mode report (relative to the ini file).",
        ),
        PluginFlag(
            flag="--recovery-baseline",
            ini="recovery_baseline",
            metavar="RUN_DIR",
            help=BASELINE_HELP,
            ini_help=f"Run directory of the baseline capture (relative to the ini file; env"
            f" {BASELINE_ENV} overrides it).",
        ),
        _twin("capture_timeout"),
    )
