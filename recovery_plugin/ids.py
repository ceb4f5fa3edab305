"""Matchup ids: one URL path segment when requested, one safe name when written to disk."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

__all__ = ["check_matchup_id", "path_segment", "safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_SLUG = 48


def path_segment(value: str) -> str:
    """Percent-encode ``value`` as exactly one path segment: ``/``, ``|``, ``%`` and Hangul included."""
    return quote(value, safe="")


def safe_name(value: str) -> str:
    """A file-name-safe, collision-free, bounded name for ``value``.

    The readable part keeps ASCII letters, digits, ``.``, ``_`` and ``-``; a hash of the full
    value follows, so ``a/b`` and ``a_b`` never share a directory and ``..`` can never escape.
    """
    slug = _UNSAFE.sub("_", value).strip("._-")[:_MAX_SLUG] or "id"
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug}-{digest}"


def check_matchup_id(value: str) -> str | None:
    """Return why ``value`` is not a usable matchup id, or ``None`` when it is."""
    if not value.strip():
        return "the matchup id is empty"
    if "\x00" in value:
        return "the matchup id contains a NUL character"
    return None
