"""Option precedence, resolved in one place: CLI flag > environment > config file > default.

Both the launcher and the pytest plugin resolve through :func:`resolve_settings`; an error names
the source of the bad value (``--jobs``, ``env RECOVERY_JOBS``, ``recovery.toml: jobs``, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from recovery_plugin.config import Runbook
from recovery_plugin.errors import ConfigError

__all__ = ["OPTIONS", "Option", "Settings", "parse_api_base", "resolve_settings"]


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


def _positive_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError("must be a whole number") from None
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def _positive_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("must be a number of seconds")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("must be a number of seconds") from None
    if not number > 0:
        raise ValueError("must be greater than 0")
    return number


def _lang(value: Any) -> str:
    text = str(value)
    if text not in ("en", "ko"):
        raise ValueError("must be 'en' or 'ko'")
    return text


def _path_text(value: Any) -> str:
    text = str(value)
    if not text.strip():
        raise ValueError("must not be empty")
    return text


@dataclass(frozen=True)
class Option:
    name: str
    flag: str
    env: str | None
    file_key: str
    parse: Callable[[Any], Any]
    file_value: Callable[[Runbook], Any]


OPTIONS: tuple[Option, ...] = (
    Option(
        "api_base", "--api-base", "API_BASE_URL", "api_base", parse_api_base, lambda r: r.api_base
    ),
    Option(
        "output_dir",
        "--output-dir",
        "RECOVERY_OUTPUT_DIR",
        "output_dir",
        _path_text,
        lambda r: r.output_dir,
    ),
    Option("input", "--input", "RECOVERY_INPUT", "input", _path_text, lambda r: r.input),
    Option("jobs", "--jobs", "RECOVERY_JOBS", "jobs", _positive_int, lambda r: r.jobs),
    Option("lang", "--lang", "RECOVERY_LANG", "lang", _lang, lambda r: r.lang),
    Option(
        "capture_timeout",
        "--capture-timeout",
        "RECOVERY_CAPTURE_TIMEOUT",
        "capture.timeout",
        _positive_float,
        lambda r: r.capture.timeout,
    ),
    Option(
        "checks_dir",
        "--checks-dir",
        "RECOVERY_CHECKS_DIR",
        "checks_dir",
        _path_text,
        lambda r: r.checks_dir,
    ),
)


@dataclass(frozen=True)
class Settings:
    api_base: str
    output_dir: Path
    input: str
    jobs: int
    lang: str
    capture_timeout: float
    checks_dir: Path | None
    sources: Mapping[str, str]
    """Where each value came from, for error messages and ``--explain``-style output."""


def resolve_settings(
    runbook: Runbook,
    *,
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    ini: Mapping[str, tuple[str, Any]] | None = None,
    flag_names: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every option of :data:`OPTIONS` through the precedence chain.

    ``flags`` holds command-line values by option name (``None`` when not given); ``ini`` holds
    pytest ini values as ``name -> (ini key, value)`` and ranks with the config file, above it.
    ``flag_names`` renames flags in error messages (the plugin's ``--recovery-*`` options).
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        flag = (flag_names or {}).get(option.name, option.flag)
        candidates: list[tuple[str, Any]] = [(flag, flags.get(option.name))]
        if option.env:
            candidates.append((f"env {option.env}", environ.get(option.env) or None))
        if ini and option.name in ini:
            ini_key, ini_value = ini[option.name]
            candidates.append((f"ini {ini_key}", ini_value))
        set_by_file = runbook.path is not None and option.file_key in runbook.file_keys
        file_label = f"{runbook.source}: {option.file_key}" if set_by_file else "default"
        candidates.append((file_label, option.file_value(runbook)))
        for label, raw in candidates:
            if raw is None:
                continue
            try:
                values[option.name] = option.parse(raw)
            except ValueError as exc:
                raise ConfigError(f"invalid {option.name} {raw!r} from {label}: {exc}") from None
            sources[option.name] = label
            break
        else:
            values[option.name] = None
            sources[option.name] = "default"
    checks_dir = values.pop("checks_dir")
    return Settings(
        output_dir=Path(values.pop("output_dir")),
        checks_dir=Path(checks_dir) if checks_dir else None,
        sources=sources,
        **values,
    )
