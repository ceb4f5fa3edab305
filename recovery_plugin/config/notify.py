"""The ``[notify]`` table of the runbook: webhooks to tell the team when a run ends.

Parsed here, in the config layer, so a bad value fails at load time with the file and dotted key
(``recovery.toml: notify.webhooks[0].on: ...``); :mod:`recovery_plugin.report.notify` sends.
``{env:NAME}`` references in ``url`` and ``headers`` are checked for form here and resolved only
when sending, so the secrets never sit in the resolved configuration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from recovery_plugin.errors import ConfigError
from recovery_plugin.records import dataclass

__all__ = [
    "DEFAULT_EVENTS",
    "ENV_REF",
    "NOTIFY_EVENTS",
    "WebhookSpec",
    "parse_notify",
    "required_env",
]

NOTIFY_EVENTS = ("failed", "success", "interrupted")
DEFAULT_EVENTS = ("failed", "interrupted")
FORMATS = ("json", "slack")
ENV_REF = re.compile(r"\{env:([^{}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class WebhookSpec:
    """One webhook: where to post, for which run statuses, and how hard to try."""

    key: str
    """Its dotted config key (``notify.webhooks[0]``), for messages."""
    url: str
    on: tuple[str, ...] = DEFAULT_EVENTS
    format: str = "json"
    headers: Mapping[str, str] | None = None
    timeout: float = 10.0
    retries: int = 2
    backoff: float = 1.0


def parse_notify(value: Any, label: str) -> tuple[WebhookSpec, ...]:
    """Validate the ``notify`` table of the config file named ``label``; errors name the key."""
    check = _Check(label)
    table = check.table(value, "notify")
    check.known(table, {"webhooks"}, "notify")
    hooks = table.get("webhooks", [])
    if not isinstance(hooks, list):
        raise check.fail("notify.webhooks", f"must be an array of tables, got {_kind(hooks)}")
    return tuple(check.webhook(raw, f"notify.webhooks[{i}]") for i, raw in enumerate(hooks))


def required_env(specs: Sequence[WebhookSpec]) -> list[str]:
    """The environment variables the webhooks' ``{env:NAME}`` references need (for a preflight)."""
    names: list[str] = []
    for spec in specs:
        for text in (spec.url, *(spec.headers or {}).values()):
            names += [n for n in ENV_REF.findall(text) if n not in names]
    return names


class _Check:
    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.label}: {key}: {problem}")

    def table(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, got {_kind(value)}")
        return value

    def known(self, table: Mapping[str, Any], allowed: set[str], key: str) -> None:
        for name in table:
            if name not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(f"{key}.{name}", f"unknown key (known keys: {known})")

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {_kind(value)}")
        for name in ENV_REF.findall(value):
            if not _ENV_NAME.fullmatch(name):
                raise self.fail(key, f"bad environment variable name in {{env:{name}}}")
        return value

    def number(self, value: Any, key: str, *, positive: bool) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise self.fail(key, f"must be a number, got {_kind(value)}")
        if value < 0 or (positive and value == 0) or value == float("inf"):
            bound = "greater than 0" if positive else "at least 0"
            raise self.fail(key, f"must be a finite number {bound}, got {value!r}")
        return float(value)

    def webhook(self, value: Any, key: str) -> WebhookSpec:
        table = self.table(value, key)
        allowed = {"url", "on", "format", "headers", "timeout", "retries", "backoff"}
        self.known(table, allowed, key)
        if "url" not in table:
            raise self.fail(f"{key}.url", "is required")
        url = self.text(table["url"], f"{key}.url")
        if not ENV_REF.fullmatch(url.strip()):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise self.fail(f"{key}.url", "must be an http:// or https:// URL with a host")
        spec = WebhookSpec(key=key, url=url)
        changes: dict[str, Any] = {}
        if "on" in table:
            changes["on"] = self.events(table["on"], f"{key}.on")
        if "format" in table:
            fmt = self.text(table["format"], f"{key}.format")
            if fmt not in FORMATS:
                raise self.fail(f"{key}.format", f"must be 'slack' or 'json', got {fmt!r}")
            changes["format"] = fmt
        if "headers" in table:
            headers = self.table(table["headers"], f"{key}.headers")
            changes["headers"] = {
                name: self.text(v, f"{key}.headers.{name}") for name, v in headers.items()
            }
        if "timeout" in table:
            changes["timeout"] = self.number(table["timeout"], f"{key}.timeout", positive=True)
        if "backoff" in table:
            changes["backoff"] = self.number(table["backoff"], f"{key}.backoff", positive=False)
        if "retries" in table:
            retries = table["retries"]
            if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
                raise self.fail(f"{key}.retries", f"must be an integer >= 0, got {retries!r}")
            changes["retries"] = retries
        return replace(spec, **changes)

    def events(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(key, f"must be a non-empty array of {', '.join(NOTIFY_EVENTS)}")
        for i, event in enumerate(value):
            if event not in NOTIFY_EVENTS:
                known = ", ".join(NOTIFY_EVENTS)
                raise self.fail(f"{key}[{i}]", f"unknown run status {event!r} (known: {known})")
        return tuple(dict.fromkeys(value))


def _kind(value: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
    names |= {list: "an array", dict: "a table"}
    return names.get(type(value), type(value).__name__)
