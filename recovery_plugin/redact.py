"""Masking of secrets in everything the tool writes: reports, step logs, captures, console."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_SECRET_ENV", "MASK", "Redactor", "secret_values"]

MASK = "***"
DEFAULT_SECRET_ENV: tuple[str, ...] = ("INTERNAL_JOB_TOKEN", "DATABASE_URL")
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY", re.IGNORECASE)
# The look-behind pins the scheme to the start of a word, keeping the scan linear on long tokens;
# the user part may be empty (``redis://:password@host``).
_URL_CREDENTIALS = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@:]*(?::[^/\s@]*)?@"
)
_AUTH_HEADER = re.compile(r"(?i)\b(authorization|proxy-authorization)(\"?\s*[:=]\s*\"?)[^\"\r\n]+")
_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
# Shorter values would mask ordinary words and numbers all over a report.
_MIN_SECRET_LENGTH = 4


def is_secret_name(name: str, listed: Iterable[str]) -> bool:
    return name in set(listed) or bool(_SECRET_NAME.search(name))


def secret_values(environ: Mapping[str, str], listed: Iterable[str]) -> list[str]:
    """Values of the variables in ``environ`` that are secret by list or by name."""
    listed = tuple(listed)
    return [value for name, value in environ.items() if is_secret_name(name, listed) and value]


class Redactor:
    """Replaces known secret values, URL credentials and authorization headers with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is masked whole.
        ordered = sorted(values, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None
        self._longest = len(ordered[0]) if ordered else 0
        # A secret JSON writes as-is (printable ASCII, no quote or backslash) can be masked in a
        # JSON document's text directly; any other needs the document walked string by string.
        self._json_plain = all(
            v.isascii() and v.isprintable() and '"' not in v and "\\" not in v for v in values
        )

    def split_for_stream(self, text: str) -> tuple[str, str]:
        """Split unfinished streamed text into (safe to mask and write now, carry into the next read).

        The carry is long enough to hold the start of any secret, and never cuts a secret in two.
        """
        keep = self._longest - 1
        if keep <= 0:
            return text, ""
        cut = len(text) - keep
        if cut <= 0:
            return "", text
        if self._pattern is not None:
            for match in self._pattern.finditer(text):
                if match.start() < cut < match.end():
                    cut = match.start()
                    break
        return text[:cut], text[cut:]

    def text(self, value: str) -> str:
        if self._pattern is not None:
            value = self._pattern.sub(MASK, value)
        # A cheap substring test first: most strings (every string of every captured body) have no URL.
        if "@" in value and "://" in value:
            value = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", value)
        return _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", value)

    def json_document(self, text: str, parsed: Any) -> Any:
        """``parsed`` (decoded from ``text``) with secrets masked: one pass over the text when
        that is exact, which it is for nearly every body (the common case masks nothing)."""
        if not self._json_plain:
            return self.obj(parsed)
        masked = self.text(text)
        return parsed if masked == text else json.loads(masked)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {
            name: MASK if name.lower() in _SENSITIVE_HEADERS else self.text(value)
            for name, value in headers.items()
        }

    def obj(self, value: Any) -> Any:
        """Redact every string inside a JSON-like structure (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.obj(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.obj(v) for v in value]
        return value
