"""The runbook: the built-in default profile, TOML overrides, and validation with precise errors.

A runbook file may set only some keys; everything else keeps the default profile, which is the
real election-poll service's (ingest with retry, single-matchup reprocess, three endpoints).
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from recovery_plugin.errors import ConfigError
from recovery_plugin.redact import DEFAULT_SECRET_ENV

__all__ = [
    "DEFAULT_ENDPOINTS",
    "PLACEHOLDERS",
    "CaptureSpec",
    "EndpointSpec",
    "Runbook",
    "StepSpec",
    "default_runbook",
    "expand",
    "find_config_file",
    "load_runbook",
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
SUMMARY_KEYS = (
    "as_of",
    "selection_policy_version",
    "data_source",
    "party_support",
    "president_job_approval",
    "election_frame",
    "presidential_approval",
    "presidential_approval_deprecated",
    "scope_breakdown",
)


@dataclass(frozen=True)
class StepSpec:
    """How one mutating step is run: argv template, limits and retry policy."""

    name: str
    command: tuple[str, ...]
    timeout: float = 600.0
    retries: int = 0
    backoff: float = 1.0
    max_backoff: float = 60.0
    retry_on_exit_codes: tuple[int, ...] = ()
    """Exit codes worth another attempt; empty means any non-zero code."""
    kill_grace: float = 5.0
    """Seconds between SIGTERM and SIGKILL when the step must be stopped."""
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    optional_args: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Arguments appended only when the named placeholder has a value (e.g. a fingerprint)."""


@dataclass(frozen=True)
class EndpointSpec:
    """One endpoint to capture and the expectations its response must meet."""

    name: str
    path: str
    expect_status: int = 200
    expect_json: Mapping[str, Any] | None = None
    expect_keys: tuple[str, ...] = ()

    @property
    def per_matchup(self) -> bool:
        """Checked once per matchup id when the path names ``{matchup_id}``."""
        return "{matchup_id}" in self.path


@dataclass(frozen=True)
class CaptureSpec:
    timeout: float = 10.0
    max_body_bytes: int = 10 * 1024 * 1024
    concurrency: int = 8
    readiness_deadline: float = 30.0
    readiness_interval: float = 0.5
    max_redirects: int = 5
    pytest_plugins: tuple[str, ...] = ()
    """Extra pytest plugins (module or entry-point names) for the verification session."""


@dataclass(frozen=True)
class Runbook:
    """A resolved runbook: the default profile with a file's overrides applied."""

    api_base: str = "http://127.0.0.1:8100"
    input: str = "data/sample_ingest.json"
    output_dir: str = "ops_recovery_bundle"
    jobs: int = 4
    lang: str = "en"
    checks_dir: str | None = None
    required_env: tuple[str, ...] = ("DATABASE_URL", "INTERNAL_JOB_TOKEN")
    secret_env: tuple[str, ...] = DEFAULT_SECRET_ENV
    env: Mapping[str, str] = field(default_factory=dict)
    steps: Mapping[str, StepSpec] = field(default_factory=dict)
    endpoints: tuple[EndpointSpec, ...] = ()
    capture: CaptureSpec = field(default_factory=CaptureSpec)
    source: str = "built-in default profile"
    path: Path | None = None
    file_keys: frozenset[str] = frozenset()
    """Dotted keys the config file set (so a default is never credited to the file)."""


DEFAULT_STEPS: Mapping[str, StepSpec] = {
    "ingest": StepSpec(
        name="ingest",
        command=(
            "{python}",
            "scripts/qa/run_ingest_with_retry.py",
            "--api-base",
            "{api_base}",
            "--input",
            "{input}",
            "--report",
            "{step_report}",
        ),
    ),
    "reprocess": StepSpec(
        name="reprocess",
        command=(
            "{python}",
            "scripts/qa/reprocess_single_matchup.py",
            "--mode",
            "apply",
            "--matchup-id",
            "{matchup_id}",
            "--output-dir",
            "{step_dir}",
            "--report",
            "{step_report}",
        ),
        optional_args={"poll_fingerprint": ("--poll-fingerprint", "{poll_fingerprint}")},
    ),
}

DEFAULT_ENDPOINTS: tuple[EndpointSpec, ...] = (
    EndpointSpec(name="health", path="/health", expect_json={"status": "ok"}),
    EndpointSpec(name="summary", path="/api/v1/dashboard/summary", expect_keys=SUMMARY_KEYS),
    EndpointSpec(
        name="matchup",
        path="/api/v1/matchups/{matchup_id}",
        expect_json={"matchup_id": "{matchup_id}"},
    ),
)


def default_runbook() -> Runbook:
    return Runbook(steps=dict(DEFAULT_STEPS), endpoints=DEFAULT_ENDPOINTS)


def expand(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders; values are inserted verbatim, never re-parsed."""
    return template.format_map(values)


def placeholders_in(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def find_config_file(cwd: Path) -> Path | None:
    """``recovery.toml`` in ``cwd``, else ``pyproject.toml`` when it has ``[tool.recovery_bundle]``."""
    candidate = cwd / "recovery.toml"
    if candidate.is_file():
        return candidate
    import tomllib

    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None  # not ours to judge; only an explicit --config is validated strictly
        if isinstance(data.get("tool"), dict) and "recovery_bundle" in data["tool"]:
            return pyproject
    return None


def load_runbook(path: Path | None) -> Runbook:
    """The default profile, overridden by the TOML file at ``path`` when given."""
    base = default_runbook()
    if path is None:
        return base
    import tomllib

    label = str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {label}") from None
    except IsADirectoryError:
        raise ConfigError(f"config path is a directory, not a TOML file: {label}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {label}: {exc}") from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: invalid TOML: {exc}") from None
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        if not isinstance(tool, dict) or "recovery_bundle" not in tool:
            raise ConfigError(f"{label}: no [tool.recovery_bundle] table")
        data = tool["recovery_bundle"]
        label = f"{label} [tool.recovery_bundle]"
        if not isinstance(data, dict):
            raise ConfigError(f"{label}: must be a table, got {_type_name(data)}")
    return _Parser(label).runbook(data, base, path)


class _Parser:
    """Validates a runbook table; every error names the file and the dotted key."""

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.label}: {key}: {problem}")

    def check_keys(self, table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                where = f"{prefix}{key}"
                known = ", ".join(sorted(allowed))
                raise self.fail(where, f"unknown key (known keys: {known})")

    def table(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, got {_type_name(value)}")
        return value

    def string(self, value: Any, key: str, *, empty_ok: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {_type_name(value)}")
        if not empty_ok and not value.strip():
            raise self.fail(key, "must not be empty")
        return value

    def number(self, value: Any, key: str, *, minimum: float = 0.0, strict: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, got {_type_name(value)}")
        if not math.isfinite(value):
            raise self.fail(key, f"must be a finite number, got {value!r}")
        if value < minimum or (strict and value == minimum):
            relation = "greater than" if strict else "at least"
            raise self.fail(key, f"must be {relation} {minimum:g}, got {value!r}")
        return float(value)

    def integer(self, value: Any, key: str, *, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, got {_type_name(value)}")
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum}, got {value}")
        return value

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list of strings, got {_type_name(value)}")
        return tuple(self.string(item, f"{key}[{i}]") for i, item in enumerate(value))

    def env_table(self, value: Any, key: str) -> dict[str, str]:
        table = self.table(value, key)
        return {name: self.string(v, f"{key}.{name}", empty_ok=True) for name, v in table.items()}

    def template(self, value: str, key: str, allowed: frozenset[str]) -> str:
        try:
            names = placeholders_in(value)
        except ValueError as exc:
            raise self.fail(key, f"malformed placeholder in {value!r}: {exc}") from None
        for name in names:
            if name not in allowed:
                known = ", ".join("{" + p + "}" for p in sorted(allowed))
                raise self.fail(key, f"unknown placeholder {{{name}}} (known: {known})")
        return value

    def runbook(self, data: Mapping[str, Any], base: Runbook, path: Path) -> Runbook:
        allowed = {
            "api_base",
            "input",
            "output_dir",
            "jobs",
            "lang",
            "checks_dir",
            "required_env",
            "secret_env",
            "env",
            "steps",
            "endpoints",
            "capture",
        }
        self.check_keys(data, allowed, "")
        changes: dict[str, Any] = {
            "source": self.label,
            "path": path,
            "file_keys": _dotted_keys(data),
        }
        for key in ("api_base", "input", "output_dir", "checks_dir"):
            if key in data:
                changes[key] = self.string(data[key], key)
        if "lang" in data:
            lang = self.string(data["lang"], "lang")
            if lang not in ("en", "ko"):
                raise self.fail("lang", f"must be 'en' or 'ko', got {lang!r}")
            changes["lang"] = lang
        if "jobs" in data:
            changes["jobs"] = self.integer(data["jobs"], "jobs", minimum=1)
        for key in ("required_env", "secret_env"):
            if key in data:
                changes[key] = self.strings(data[key], key)
        if "env" in data:
            changes["env"] = self.env_table(data["env"], "env")
        if "steps" in data:
            changes["steps"] = self.steps(data["steps"], base.steps)
        if "endpoints" in data:
            changes["endpoints"] = self.endpoints(data["endpoints"])
        if "capture" in data:
            changes["capture"] = self.capture(data["capture"], base.capture)
        return replace(base, **changes)

    def steps(self, value: Any, defaults: Mapping[str, StepSpec]) -> dict[str, StepSpec]:
        table = self.table(value, "steps")
        self.check_keys(table, set(STEP_NAMES), "steps.")
        steps = dict(defaults)
        for name, raw in table.items():
            steps[name] = self.step(name, self.table(raw, f"steps.{name}"), defaults[name])
        return steps

    def step(self, name: str, table: Mapping[str, Any], base: StepSpec) -> StepSpec:
        prefix = f"steps.{name}"
        allowed = {
            "command",
            "timeout",
            "retries",
            "backoff",
            "max_backoff",
            "retry_on_exit_codes",
            "kill_grace",
            "cwd",
            "env",
            "optional_args",
        }
        self.check_keys(table, allowed, f"{prefix}.")
        changes: dict[str, Any] = {}
        if "command" in table:
            command = self.strings(table["command"], f"{prefix}.command")
            if not command:
                raise self.fail(f"{prefix}.command", "must name a program")
            for i, arg in enumerate(command):
                self.template(arg, f"{prefix}.command[{i}]", PLACEHOLDERS)
            changes["command"] = command
            # A replaced command does not inherit the default's optional flags.
            changes["optional_args"] = {}
        if "timeout" in table:
            changes["timeout"] = self.number(table["timeout"], f"{prefix}.timeout", strict=True)
        if "retries" in table:
            changes["retries"] = self.integer(table["retries"], f"{prefix}.retries")
        for key in ("backoff", "max_backoff", "kill_grace"):
            if key in table:
                changes[key] = self.number(table[key], f"{prefix}.{key}")
        if "retry_on_exit_codes" in table:
            key = f"{prefix}.retry_on_exit_codes"
            raw = table["retry_on_exit_codes"]
            if not isinstance(raw, list):
                raise self.fail(key, f"must be a list of integers, got {_type_name(raw)}")
            changes["retry_on_exit_codes"] = tuple(
                self.integer(code, f"{key}[{i}]", minimum=1) for i, code in enumerate(raw)
            )
        if "cwd" in table:
            changes["cwd"] = self.string(table["cwd"], f"{prefix}.cwd")
        if "env" in table:
            changes["env"] = self.env_table(table["env"], f"{prefix}.env")
        if "optional_args" in table:
            key = f"{prefix}.optional_args"
            raw_optional = self.table(table["optional_args"], key)
            optional: dict[str, tuple[str, ...]] = {}
            for placeholder, args in raw_optional.items():
                if placeholder not in PLACEHOLDERS:
                    raise self.fail(f"{key}.{placeholder}", "unknown placeholder")
                items = self.strings(args, f"{key}.{placeholder}")
                for i, arg in enumerate(items):
                    self.template(arg, f"{key}.{placeholder}[{i}]", PLACEHOLDERS)
                optional[placeholder] = items
            changes["optional_args"] = optional
        return replace(base, **changes)

    def endpoints(self, value: Any) -> tuple[EndpointSpec, ...]:
        if not isinstance(value, list):
            raise self.fail("endpoints", f"must be an array of tables, got {_type_name(value)}")
        names: set[str] = set()
        specs = []
        for i, raw in enumerate(value):
            prefix = f"endpoints[{i}]"
            table = self.table(raw, prefix)
            allowed = {"name", "path", "expect_status", "expect_json", "expect_keys"}
            self.check_keys(table, allowed, f"{prefix}.")
            for required in ("name", "path"):
                if required not in table:
                    raise self.fail(f"{prefix}.{required}", "is required")
            name = self.string(table["name"], f"{prefix}.name")
            if name in names:
                raise self.fail(f"{prefix}.name", f"duplicate endpoint name {name!r}")
            names.add(name)
            path = self.template(
                self.string(table["path"], f"{prefix}.path"),
                f"{prefix}.path",
                frozenset({"matchup_id"}),
            )
            if not path.startswith("/"):
                raise self.fail(f"{prefix}.path", f"must start with '/', got {path!r}")
            spec = EndpointSpec(name=name, path=path)
            if "expect_status" in table:
                status = self.integer(
                    table["expect_status"], f"{prefix}.expect_status", minimum=100
                )
                if status > 599:
                    raise self.fail(f"{prefix}.expect_status", f"not an HTTP status: {status}")
                spec = replace(spec, expect_status=status)
            if "expect_json" in table:
                expect = self.table(table["expect_json"], f"{prefix}.expect_json")
                self._check_expect_templates(expect, f"{prefix}.expect_json")
                spec = replace(spec, expect_json=expect)
            if "expect_keys" in table:
                spec = replace(
                    spec, expect_keys=self.strings(table["expect_keys"], f"{prefix}.expect_keys")
                )
            specs.append(spec)
        return tuple(specs)

    def _check_expect_templates(self, value: Any, key: str) -> None:
        if isinstance(value, str):
            self.template(value, key, frozenset({"matchup_id"}))
        elif isinstance(value, dict):
            for k, v in value.items():
                self._check_expect_templates(v, f"{key}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self._check_expect_templates(v, f"{key}[{i}]")

    def capture(self, value: Any, base: CaptureSpec) -> CaptureSpec:
        table = self.table(value, "capture")
        allowed = {
            "timeout",
            "max_body_bytes",
            "concurrency",
            "readiness_deadline",
            "readiness_interval",
            "max_redirects",
            "pytest_plugins",
        }
        self.check_keys(table, allowed, "capture.")
        changes: dict[str, Any] = {}
        if "timeout" in table:
            changes["timeout"] = self.number(table["timeout"], "capture.timeout", strict=True)
        for key in ("readiness_deadline", "readiness_interval"):
            if key in table:
                changes[key] = self.number(table[key], f"capture.{key}")
        if "max_body_bytes" in table:
            changes["max_body_bytes"] = self.integer(
                table["max_body_bytes"], "capture.max_body_bytes", minimum=1
            )
        if "concurrency" in table:
            changes["concurrency"] = self.integer(
                table["concurrency"], "capture.concurrency", minimum=1
            )
        if "pytest_plugins" in table:
            changes["pytest_plugins"] = self.strings(
                table["pytest_plugins"], "capture.pytest_plugins"
            )
        if "max_redirects" in table:
            changes["max_redirects"] = self.integer(table["max_redirects"], "capture.max_redirects")
        return replace(base, **changes)


def _dotted_keys(data: Mapping[str, Any], prefix: str = "") -> frozenset[str]:
    keys: set[str] = set()
    for key, value in data.items():
        keys.add(prefix + key)
        if isinstance(value, dict) and not prefix:
            keys |= _dotted_keys(value, f"{key}.")
    return frozenset(keys)


def _type_name(value: Any) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)
