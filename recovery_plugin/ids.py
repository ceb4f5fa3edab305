"""Matchup ids: one URL path segment when requested, one safe name when written to disk."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

from recovery_plugin.errors import ConfigError

__all__ = [
    "check_matchup_id",
    "path_segment",
    "printable",
    "read_matchup_file",
    "safe_name",
    "write_matchup_file",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_SLUG = 48


def path_segment(value: str) -> str:
    """Percent-encode ``value`` as exactly one path segment: ``/``, ``|``, ``%`` and Hangul included.

    ``.`` and ``..`` are encoded too (``%2E``): left bare, URL normalisation (RFC 3986, which httpx
    applies) would remove them as dot-segments and request another path.
    """
    segment = quote(value, safe="")
    if segment in (".", ".."):
        return segment.replace(".", "%2E")
    return segment


def printable(value: str) -> str:
    """``value`` with non-printable characters escaped (``\\n``, ``\\x1b``); Hangul stays as it is."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in value)


def safe_name(value: str) -> str:
    """A file-name-safe, collision-free, bounded name for ``value``.

    The readable part keeps ASCII letters, digits, ``.``, ``_`` and ``-``; a hash of the full
    value follows, so ``a/b`` and ``a_b`` never share a directory and ``..`` can never escape.
    """
    import hashlib  # deferred: OpenSSL start-up is a measurable part of the CLI's

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


def read_matchup_file(path: Path) -> list[str]:
    """Ids from ``path``: a JSON list of strings, or one id per line (``#`` comments, blanks ignored)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--matchup-file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read --matchup-file {path}: {exc}") from None
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"--matchup-file {path}: invalid JSON: {exc.msg} (line {exc.lineno})"
            ) from None
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise ConfigError(f"--matchup-file {path}: a JSON file must hold a list of strings")
        return list(data)
    ids = []
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.strip()
        if not value or value.startswith("#"):
            continue
        problem = check_matchup_id(value)
        if problem:
            raise ConfigError(f"--matchup-file {path}: line {number}: {problem}")
        ids.append(value)
    return ids


def write_matchup_file(path: Path, ids: list[str]) -> None:
    """Write ``ids`` so that :func:`read_matchup_file` reads them back exactly (a JSON list)."""
    from recovery_plugin.atomic import write_json_atomic

    write_json_atomic(path, ids)
