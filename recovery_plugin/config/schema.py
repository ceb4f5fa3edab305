"""The runbook's schema: what a runbook file may set, as dataclasses with validation rules.

Each field's annotation and ``rule(...)`` (see :mod:`recovery_plugin.validate`) are the whole
description of a key: the loader accepts exactly these keys and reports a bad value with the
file and the dotted key.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from recovery_plugin.config.notify import WebhookSpec
from recovery_plugin.records import dataclass
from recovery_plugin.redact import DEFAULT_SECRET_ENV
from recovery_plugin.validate import Invalid, rule

__all__ = [
    "CONFIRM_POLICIES",
    "FINALLY_STEP",
    "PLACEHOLDERS",
    "STEP_NAMES",
    "CaptureSpec",
    "EndpointSpec",
    "HandlerSpec",
    "Runbook",
    "StepSpec",
    "expand",
    "placeholders_in",
]

PLACEHOLDERS = frozenset(
    {
        "python",
        "api_base",
        "input",
        "matchup_id",
        "poll_fingerprint",
        "run_dir",
        "step_dir",
        "step_report",
        "mode",
    }
)
STEP_NAMES = ("ingest", "reprocess")
CONFIRM_POLICIES = ("always", "non-loopback", "never")
FINALLY_STEP = "finally"
"""``[steps.finally]``: runs once at the end of an apply, whatever happened (Ansible ``always``)."""
_ENDPOINT_PLACEHOLDERS = frozenset({"matchup_id"})


def expand(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders; values are inserted verbatim, never re-parsed."""
    return template.format_map(values)


def placeholders_in(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


# --- checks the rules below refer to -------------------------------------------------------


def _check_template(value: str, allowed: frozenset[str], at: str = "") -> None:
    try:
        names = placeholders_in(value)
    except ValueError as exc:
        raise Invalid(f"malformed placeholder in {value!r}: {exc}", at) from None
    for name in names:
        if name not in allowed:
            known = ", ".join("{" + p + "}" for p in sorted(allowed))
            raise Invalid(f"unknown placeholder {{{name}}} (known: {known})", at)


def _check_command(command: tuple[str, ...]) -> None:
    if not command:
        raise Invalid("must name a program")
    for i, arg in enumerate(command):
        _check_template(arg, PLACEHOLDERS, f"[{i}]")


def _check_placeholder_name(name: str) -> None:
    if name not in PLACEHOLDERS:
        raise Invalid("unknown placeholder")


def _check_optional_args(optional: Mapping[str, tuple[str, ...]]) -> None:
    for placeholder, args in optional.items():
        for i, arg in enumerate(args):
            _check_template(arg, PLACEHOLDERS, f".{placeholder}[{i}]")


def _check_step_name(name: str) -> None:
    if name not in (*STEP_NAMES, FINALLY_STEP):
        raise Invalid(f"unknown key (known keys: {', '.join((*STEP_NAMES, FINALLY_STEP))})")


def _check_lang(lang: str) -> None:
    if lang not in ("en", "ko"):
        raise Invalid(f"must be 'en' or 'ko', got {lang!r}")


def _check_confirm(policy: str) -> None:
    if policy not in CONFIRM_POLICIES:
        known = ", ".join(repr(p) for p in CONFIRM_POLICIES)
        raise Invalid(f"must be one of {known}, got {policy!r}")


def _check_endpoint_path(path: str) -> None:
    _check_template(path, _ENDPOINT_PLACEHOLDERS)
    if not path.startswith("/"):
        raise Invalid(f"must start with '/', got {path!r}")


def _check_http_status(status: int) -> None:
    if status > 599:
        raise Invalid(f"not an HTTP status: {status}")


def _check_expect_templates(value: Any, at: str = "") -> None:
    if isinstance(value, str):
        _check_template(value, _ENDPOINT_PLACEHOLDERS, at)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_expect_templates(item, f"{at}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_expect_templates(item, f"{at}[{i}]")


def _check_openapi_source(value: str) -> None:
    _check_template(value, frozenset({"api_base"}))


def _check_unique_names(endpoints: tuple[EndpointSpec, ...]) -> None:
    seen: set[str] = set()
    for i, endpoint in enumerate(endpoints):
        if endpoint.name in seen:
            raise Invalid(f"duplicate endpoint name {endpoint.name!r}", f"[{i}].name")
        seen.add(endpoint.name)


# --- the schema ----------------------------------------------------------------------------

_SECONDS = rule(minimum=0)
_STRINGS_MAY_BE_EMPTY = rule(allow_empty=True)


@dataclass(frozen=True)
class HandlerSpec:
    """``on_failure``: the command run (once, no retries) when its step fails or times out."""

    command: tuple[str, ...] = field(metadata=rule(check=_check_command))
    timeout: float = field(default=300.0, metadata=rule(above=0))
    kill_grace: float = field(default=5.0, metadata=_SECONDS)


@dataclass(frozen=True)
class StepSpec:
    """How one mutating step is run: argv template, limits and retry policy."""

    # Defaults only so a new table (``[steps.finally]``) can be parsed; the loader names each
    # step after its key and ``post_validate`` insists on a command.
    name: str = field(default="", metadata=rule(in_file=False))
    command: tuple[str, ...] = field(default=(), metadata=rule(check=_check_command))
    timeout: float = field(default=600.0, metadata=rule(above=0))
    retries: int = field(default=0, metadata=rule(minimum=0))
    backoff: float = field(default=1.0, metadata=_SECONDS)
    max_backoff: float = field(default=60.0, metadata=_SECONDS)
    retry_on_exit_codes: tuple[int, ...] = field(default=(), metadata=rule(minimum=1))
    """Exit codes worth another attempt; empty means any non-zero code."""
    kill_grace: float = field(default=5.0, metadata=_SECONDS)
    """Seconds between SIGTERM and SIGKILL when the step must be stopped."""
    max_log_bytes: int = field(default=32 * 1024 * 1024, metadata=rule(minimum=4096))
    """Cap of one attempt's log file; past it the earliest output is dropped, the tail kept."""
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict, metadata=_STRINGS_MAY_BE_EMPTY)
    optional_args: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict,
        metadata=rule(
            key_check=_check_placeholder_name,
            check=_check_optional_args,
            # A replaced command does not inherit the default's optional flags.
            reset_with="command",
        ),
    )
    """Arguments appended only when the named placeholder has a value (e.g. a fingerprint)."""
    on_failure: HandlerSpec | None = None
    """Run when this step fails or times out, with the failed step's placeholders (a rollback)."""

    def post_validate(self, given: frozenset[str]) -> None:
        if not self.command:
            raise Invalid("is required", ".command")


@dataclass(frozen=True)
class EndpointSpec:
    """One endpoint to capture and the expectations its response must meet."""

    name: str
    path: str = field(metadata=rule(check=_check_endpoint_path))
    expect_status: int = field(default=200, metadata=rule(minimum=100, check=_check_http_status))
    expect_json: Mapping[str, Any] | None = field(
        default=None, metadata=rule(check=_check_expect_templates)
    )
    expect_keys: tuple[str, ...] = ()
    assertions: tuple[Any, ...] = ()
    """``[[endpoints.assert]]`` tables (the file's key is ``assert``); checked by the engine at
    resolve time (:func:`recovery_plugin.http.expectations.check_runbook`)."""
    reprocessed_assert: tuple[Any, ...] = ()
    """Assertions applied only to a matchup reprocessed in this run (``apply``); ``[]`` turns
    the built-in ``$.has_data == true`` off."""
    expect_schema: str | None = None
    expect_changed: Any = None
    expect_unchanged: Any = None
    max_ms: float | None = field(default=None, metadata=rule(above=0))
    slo: Mapping[str, Any] | None = None
    poll: Mapping[str, Any] | None = None
    openapi: str | None = field(default=None, compare=False, metadata=rule(in_file=False))
    """The runbook's top-level ``openapi``, copied here by the loader (not part of equality)."""

    @property
    def per_matchup(self) -> bool:
        """Checked once per matchup id when the path names ``{matchup_id}``."""
        return "{matchup_id}" in self.path


@dataclass(frozen=True)
class CaptureSpec:
    timeout: float = field(default=10.0, metadata=rule(above=0))
    max_body_bytes: int = field(default=10 * 1024 * 1024, metadata=rule(minimum=1))
    concurrency: int = field(default=8, metadata=rule(minimum=1))
    readiness_deadline: float = field(default=30.0, metadata=_SECONDS)
    readiness_interval: float = field(default=0.5, metadata=_SECONDS)
    max_redirects: int = field(default=5, metadata=rule(minimum=0))
    pytest_plugins: tuple[str, ...] = ()
    """Extra pytest plugins (module or entry-point names) for the verification session."""


@dataclass(frozen=True)
class Runbook:
    """A resolved runbook: the default profile with a file's overrides applied."""

    api_base: str = "http://127.0.0.1:8100"
    input: str = "data/sample_ingest.json"
    output_dir: str = "ops_recovery_bundle"
    jobs: int = field(default=4, metadata=rule(minimum=1))
    lang: str = field(default="en", metadata=rule(check=_check_lang))
    checks_dir: str | None = None
    require_ids: bool = False
    """An empty id list, or every step skipped, is an error (exit 2), not a warning."""
    required_env: tuple[str, ...] = ("DATABASE_URL", "INTERNAL_JOB_TOKEN")
    secret_env: tuple[str, ...] = DEFAULT_SECRET_ENV
    env: Mapping[str, str] = field(default_factory=dict, metadata=_STRINGS_MAY_BE_EMPTY)
    steps: Mapping[str, StepSpec] = field(
        default_factory=dict, metadata=rule(key_check=_check_step_name)
    )
    endpoints: tuple[EndpointSpec, ...] = field(
        default=(), metadata=rule(check=_check_unique_names)
    )
    capture: CaptureSpec = field(default_factory=CaptureSpec)
    confirm: str = field(default="non-loopback", metadata=rule(check=_check_confirm))
    """When ``apply`` asks before mutating: always, only for a non-loopback target, or never."""
    notify: tuple[WebhookSpec, ...] = field(default=(), metadata=rule(in_file=False))
    """The ``[notify]`` webhooks (parsed by :func:`~recovery_plugin.config.notify.parse_notify`)."""
    openapi: str | None = field(
        default=None, metadata=rule(check=_check_openapi_source, allow_empty=True)
    )
    """The service's OpenAPI document (URL or path; ``{api_base}`` allowed); ``""`` turns it off."""
    source: str = field(default="built-in default profile", metadata=rule(in_file=False))
    path: Path | None = field(default=None, metadata=rule(in_file=False))
    file_keys: frozenset[str] = field(default=frozenset(), metadata=rule(in_file=False))
    """Dotted keys the config file set (so a default is never credited to the file)."""
