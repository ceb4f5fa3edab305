"""Matchup ids: one URL path segment when requested, one safe name when written to disk."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from recovery_plugin.errors import ConfigError

__all__ = [
    "MAX_MATCHUP_FILE_BYTES",
    "check_matchup_id",
    "path_segment",
    "printable",
    "read_matchup_file",
    "step_names",
    "write_matchup_file",
]

MAX_MATCHUP_FILE_BYTES = 16 * 1024 * 1024
"""A matchup file larger than this is refused unread: an id list is kilobytes, not gigabytes."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_SLUG = 48
# Letters (so ``str.isprintable`` keeps them) that every terminal draws as nothing: Hangul
# fillers and the blank Braille pattern, used to make two different ids look alike.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


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
    """``value`` with what a terminal would act on or hide escaped (``\\n``, ``\\x1b``, ``\\u202e``).

    Escaped: C0 and C1 controls, format characters (bidi overrides and isolates, zero-width
    characters, the BOM), separators other than the space, surrogates (non-UTF-8 bytes) and
    letters drawn as nothing (Hangul fillers). Hangul syllables and accents stay as they are.
    """
    if value.isprintable() and not any(letter in value for letter in _INVISIBLE_LETTERS):
        return value  # nearly every line: no copy built a character at a time
    return "".join(
        ch if ch.isprintable() and ch not in _INVISIBLE_LETTERS else ascii(ch)[1:-1] for ch in value
    )


def step_names(ids: Sequence[str]) -> list[str]:
    """One file name per id, in order: ``<position>-<readable part>``, e.g. ``03-matchup-42``.

    Distinct by construction, even on a case-insensitive file system: the 1-based position in
    the run's id list comes first, zero-padded so the names sort in run order. The readable
    part keeps ASCII letters, digits, ``.``, ``_`` and ``-`` (at most 48 characters), so a name
    is always one bounded path component that never starts with ``.``.
    """
    width = len(str(len(ids)))
    return [f"{position:0{width}d}-{_slug(value)}" for position, value in enumerate(ids, start=1)]


def _slug(value: str) -> str:
    return _UNSAFE.sub("_", value).strip("._-")[:_MAX_SLUG].rstrip("._-") or "id"


def check_matchup_id(value: str) -> str | None:
    """Return why ``value`` is not a usable matchup id, or ``None`` when it is."""
    if not value.strip():
        return "the matchup id is empty"
    if "\x00" in value:
        return "the matchup id contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        # Lone surrogates: bytes that were not UTF-8 (argv, a JSON "\udcff"). No URL, file name
        # or report can carry them faithfully, so no request for this id can mean anything.
        return f"the matchup id is not UTF-8 text ({printable(value[exc.start : exc.end])} at {exc.start})"
    return None


def read_matchup_file(path: Path) -> list[str]:
    """Ids from ``path``: a JSON list of strings, or one id per line (``#`` comments, blanks ignored).

    Only a regular file of at most :data:`MAX_MATCHUP_FILE_BYTES` is read: a device
    (``/dev/zero``), a FIFO without a writer or a directory is refused at once, never read.
    """
    shown = printable(str(path))
    data = _read_regular_file(path, shown)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"cannot read --matchup-file {shown}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"--matchup-file {shown}: invalid JSON: {exc.msg} (line {exc.lineno})"
            ) from None
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise ConfigError(f"--matchup-file {shown}: a JSON file must hold a list of strings")
        return list(data)
    ids = []
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.strip()
        if not value or value.startswith("#"):
            continue
        problem = check_matchup_id(value)
        if problem:
            raise ConfigError(f"--matchup-file {shown}: line {number}: {problem}")
        ids.append(value)
    return ids


def _read_regular_file(path: Path, shown: str) -> bytes:
    try:
        _refuse_unless_regular(path.stat(), shown)
        # O_NONBLOCK: should a FIFO replace the file after the check, opening it cannot block.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError(f"--matchup-file not found: {shown}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read --matchup-file {shown}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(fd)
        _refuse_unless_regular(opened, shown)
        _refuse_if_too_large(opened.st_size, shown)
        try:
            data = handle.read(MAX_MATCHUP_FILE_BYTES + 1)  # + 1: it may have grown since
        except OSError as exc:
            raise ConfigError(
                f"cannot read --matchup-file {shown}: {exc.strerror or exc}"
            ) from None
    _refuse_if_too_large(len(data), shown)
    return data


def _refuse_if_too_large(size: int, shown: str) -> None:
    if size > MAX_MATCHUP_FILE_BYTES:
        raise ConfigError(
            f"--matchup-file {shown}: larger than {MAX_MATCHUP_FILE_BYTES // (1024 * 1024)} MiB"
            f" ({size} bytes); an id list is far smaller"
        )


def _refuse_unless_regular(info: os.stat_result, shown: str) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    kind = next(
        (name for test, name in _FILE_KINDS if test(info.st_mode)), "an unknown kind of file"
    )
    raise ConfigError(f"--matchup-file {shown}: not a regular file ({kind})")


def write_matchup_file(path: Path, ids: list[str]) -> None:
    """Write ``ids`` so that :func:`read_matchup_file` reads them back exactly (a JSON list)."""
    from recovery_plugin.atomic import write_json_atomic

    write_json_atomic(path, ids)
