"""Masking of secrets in everything the tool writes: reports, step logs, captures, console.

One :class:`Redactor` masks, for every place the tool writes:

- each known secret value in every shape it takes on the way out: as is, line by line (a PEM
  key printed a line at a time), JSON-escaped (a quote, a backslash, a newline or non-ASCII
  inside a JSON string), percent-encoded, and — for a URL with credentials — its password
  alone and the base64 ``user:password`` an HTTP client sends as ``Basic`` credentials;
- URL credentials (``scheme://user:password@host``) and ``Authorization`` values in any
  notation (header line, ``-H '...'``, JSON or Python key, ``key=value``, any case), and a
  long ``Bearer`` token wherever it appears, without being told the values.

A value too short or too common to be a secret (:func:`unmaskable_reason`: ``true``, ``admin``,
``8100``) is never masked — masking it would rewrite healthy output all over — and is reported
instead (:attr:`Secret.unmaskable`), for the preflight to say "not masked".

Masking returns a copy (:meth:`Redactor.obj_shared` shares the parts it leaves as they are,
for what is written and then only read): callers judge the raw data and mask what they *write*.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from recovery_plugin.lazy import LazyPattern
from recovery_plugin.records import dataclass

__all__ = [
    "DEFAULT_SECRET_ENV",
    "MASK",
    "MIN_SECRET_LENGTH",
    "Redactor",
    "Secret",
    "find_secrets",
    "is_secret_name",
    "secret_values",
    "unmaskable_reason",
    "url_secrets",
]

MASK = "***"
DEFAULT_SECRET_ENV: tuple[str, ...] = ("INTERNAL_JOB_TOKEN", "DATABASE_URL")
MIN_SECRET_LENGTH = 8
"""Shorter values are words, codes and numbers found all over healthy output (and shorter than
any password policy allows): they are reported as not masked instead of being masked."""

_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY", re.IGNORECASE)
_COMMON_WORDS = frozenset(
    {
        "password",
        "passw0rd",
        "changeme",
        "changeit",
        "localhost",
        "postgres",
        "database",
        "disabled",
        "enabled",
        "production",
        "development",
        "staging",
        "administrator",
        "undefined",
        "anonymous",
    }
)
_PLAIN_NUMBER = LazyPattern(r"[+-]?\d+(?:\.\d+)?")
_DISTINCTIVE_NUMBER_LENGTH = 16  # a 16-digit number is no longer a count, a port or a timestamp
_PEM_ARMOR = LazyPattern(r"-----(?:BEGIN|END) [A-Z0-9 ]+-----")
# The look-behind pins the scheme to the start of a word, keeping the scan linear on long
# tokens; userinfo runs to the last '@' of the authority (a password may hold a bare '@').
_URL_CREDENTIALS = LazyPattern(
    r"(?<![A-Za-z0-9+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s\"'<>]*@"
)
# The key, its closing quote (``"``, ``'`` or JSON-escaped ``\"``), ``:`` or ``=``, the value's
# opening quote; the value runs to its closing quote, a backslash, ``&`` or the end of the line.
_AUTH_VALUE = LazyPattern(
    r"(?i)(?<![A-Za-z0-9-])(?P<key>(?:proxy-)?authorization\\?[\"']?\s*[:=]\s*\\?[\"']?)"
    r"[^\s\"'\\&][^\r\n\"'\\&]*"
)
_BEARER = LazyPattern(r"(?<![A-Za-z0-9])(?P<scheme>[Bb]earer\s+)[A-Za-z0-9._~+/-]{16,}=*")
_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_SECRET_HEADER = LazyPattern(r"(?i)token|secret|passw|api-?key|session|credential")


def is_secret_name(name: str, listed: Iterable[str]) -> bool:
    return name in set(listed) or bool(_SECRET_NAME.search(name))


def secret_values(environ: Mapping[str, str], listed: Iterable[str]) -> list[str]:
    """Values of the variables in ``environ`` that are secret by list or by name."""
    listed = tuple(listed)
    return [value for name, value in environ.items() if is_secret_name(name, listed) and value]


@dataclass(frozen=True)
class Secret:
    """A secret variable: the env table that sets it (``environment``, ``env``,
    ``steps.<step>.env``), its name and its value."""

    table: str
    name: str
    value: str

    @property
    def where(self) -> str:
        """How an operator finds it: ``NAME`` in the environment, ``steps.ingest.env.NAME``."""
        return self.name if self.table == "environment" else f"{self.table}.{self.name}"

    @property
    def unmaskable(self) -> str | None:
        """Why this value is not masked, or ``None`` when it is."""
        return unmaskable_reason(self.value)


def find_secrets(tables: Mapping[str, Mapping[str, str]], listed: Iterable[str]) -> list[Secret]:
    """The secret variables of every env table a run uses, by list (``secret_env``) or by name.

    ``tables`` maps where a table comes from to its variables, e.g. ``{"environment":
    os.environ, "env": runbook.env, "steps.ingest.env": ingest.env}``: a secret set only in a
    step's own ``env`` is a secret too.
    """
    listed = tuple(listed)
    return [
        Secret(table, name, value)
        for table, variables in tables.items()
        for name, value in variables.items()
        if value and is_secret_name(name, listed)
    ]


def unmaskable_reason(value: str) -> str | None:
    """Why ``value`` cannot be masked without rewriting healthy output, or ``None``."""
    bare = value.strip()
    if len(bare) < MIN_SECRET_LENGTH:
        return f"too short: under {MIN_SECRET_LENGTH} characters"
    if _PLAIN_NUMBER.fullmatch(bare) and len(bare) < _DISTINCTIVE_NUMBER_LENGTH:
        return "too common: a plain number"
    if bare.casefold() in _COMMON_WORDS:
        return "too common: a well-known word"
    return None


def url_secrets(url: str) -> list[str]:
    """The credentials inside ``url`` in the shapes they travel in: the password (as written
    and decoded), ``user:password``, and its base64 form sent as ``Authorization: Basic``."""
    from urllib.parse import unquote, urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    if "@" not in parts.netloc:
        return []
    userinfo = parts.netloc.rpartition("@")[0]
    user, _, password = userinfo.partition(":")
    forms = [userinfo, unquote(userinfo), password, unquote(password)]
    if password:
        import base64

        decoded = f"{unquote(user)}:{unquote(password)}"
        forms.append(base64.b64encode(decoded.encode("utf-8")).decode("ascii"))
    return [form for form in dict.fromkeys(forms) if form]


def _shapes(secret: str) -> list[str]:
    """Every shape ``secret`` may be written in (unmaskable ones are dropped by the caller)."""
    from urllib.parse import quote

    shapes = [secret]
    if "\n" in secret or "\r" in secret:
        shapes += [
            line.strip()
            for line in secret.splitlines()
            if not _PEM_ARMOR.fullmatch(line.strip())  # public, and says what was masked
        ]
    for ensure_ascii in (True, False):
        shapes.append(json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1])
    shapes.append(quote(secret, safe=""))
    if "://" in secret:
        shapes += url_secrets(secret)
    return shapes


class Redactor:
    """Replaces secrets (every shape of the known values, URL credentials, authorization
    values) with ``***`` in what is written. Every method returns a copy."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {
            shape
            for secret in secrets
            if unmaskable_reason(secret) is None
            for shape in _shapes(secret)
            if unmaskable_reason(shape) is None
        }
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
        # Cheap substring tests first: most strings (every string of every body) have neither.
        if "@" in value and "://" in value:
            value = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", value)
        if value.isascii():
            lowered = value.lower()
            authorization, bearer = "authorization" in lowered, "bearer" in lowered
        else:
            # Only ASCII letters need folding to find these ASCII words, and folding bytes
            # costs a third of lowering a text of Hangul.
            folded = value.encode("utf-8", "surrogatepass").lower()
            authorization, bearer = b"authorization" in folded, b"bearer" in folded
        if authorization:
            value = _AUTH_VALUE.sub(lambda m: f"{m.group('key')}{MASK}", value)
        if bearer:
            value = _BEARER.sub(lambda m: f"{m.group('scheme')}{MASK}", value)
        return value

    def json_document(self, text: str, parsed: Any) -> Any:
        """A masked copy of ``parsed`` (decoded from ``text``), for writing: one pass over the
        text when that is exact, which it is for nearly every body (the common case masks
        nothing and returns ``parsed`` itself)."""
        masked = self.json_text(text)
        if masked is None:
            return self.obj(parsed)
        return parsed if masked == text else json.loads(masked)

    def json_text(self, text: str) -> str | None:
        """The JSON document ``text`` masked as text, still the same JSON but for the masks;
        None when masking the text would not be exact (a secret JSON escapes when it writes
        it): then only the decoded document can be masked (:meth:`obj`)."""
        return self.text(text) if self._json_plain else None

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Credentials headers (and any named like a secret) masked whole; others by value."""
        return {
            name: MASK
            if name.lower() in _SENSITIVE_HEADERS or _SECRET_HEADER.search(name)
            else self.text(value)
            for name, value in headers.items()
        }

    def obj_shared(self, value: Any) -> Any:
        """``value`` masked as :meth:`obj` masks it, but every dict and list with nothing to
        mask in it is ``value``'s own, not a copy: for what is written and then only read
        (the report of 100,000 checks would otherwise be held twice as it is written)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            copy: dict[str, Any] | None = None
            for index, (key, item) in enumerate(value.items()):
                masked_key = self.text(str(key))  # str() of a str is the str itself
                masked = self.obj_shared(item)
                if copy is None and (masked_key is not key or masked is not item):
                    copy = dict(itertools.islice(value.items(), index))  # unchanged so far
                if copy is not None:
                    copy[masked_key] = masked
            return value if copy is None else copy
        if isinstance(value, list):
            masked_items = None
            for index, item in enumerate(value):
                masked = self.obj_shared(item)
                if masked_items is None and masked is not item:
                    masked_items = value[:index]
                if masked_items is not None:
                    masked_items.append(masked)
            return value if masked_items is None else masked_items
        if isinstance(value, Mapping | tuple):
            return self.obj(value)  # not a dict or list: copied into one, as obj() does
        return value

    def obj(self, value: Any) -> Any:
        """A copy of a JSON-like structure with every string masked (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.obj(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.obj(v) for v in value]
        return value
