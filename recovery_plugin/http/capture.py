"""What a capture is: the target to request and the response that came back, as plain data.

Only the standard library and our own small modules at import: the launcher, the checks and the
capture file handle captures without loading httpx (only :mod:`recovery_plugin.http.fetch`,
which makes the requests, needs it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import field, fields
from typing import TYPE_CHECKING, Any

from recovery_plugin.ids import path_segment
from recovery_plugin.records import dataclass
from recovery_plugin.redact import Redactor

if TYPE_CHECKING:
    from recovery_plugin.config import EndpointSpec

__all__ = ["Capture", "CaptureKey", "Target", "targets_for"]

CaptureKey = tuple[str, str | None]
"""``(endpoint name, matchup id)``: how captures of one run are told apart."""


@dataclass(frozen=True, slots=True)  # one per check, held all session: no __dict__ each
class Target:
    """One request to make: an endpoint, for one matchup id when its path names one."""

    name: str
    path_template: str
    matchup_id: str | None = None
    _key: CaptureKey = field(init=False, repr=False, compare=False)
    """One tuple for the target's life: every map of captures by key shares it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_key", (self.name, self.matchup_id))

    @property
    def path(self) -> str:
        """The request path (raises for an id that cannot be encoded). Built when asked for,
        not kept: the launcher holds 100,000 targets all session and asks for few paths."""
        if self.matchup_id is None:
            return self.path_template
        return self.path_template.replace("{matchup_id}", path_segment(self.matchup_id))

    @property
    def key(self) -> CaptureKey:
        return self._key


@dataclass(slots=True)  # thousands may wait to be judged at once: no __dict__ each
class Capture:
    """One response, raw: the checks judge ``headers`` and ``body`` exactly as the service sent
    them. :meth:`to_dict` is what is written, masked by the capture's redactor."""

    name: str
    url: str
    path: str
    matchup_id: str | None = None
    method: str = "GET"
    captured_at: str = ""
    status: int | None = None
    elapsed_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    body_bytes: int = 0
    truncated: bool = False
    error: dict[str, str] | None = None
    """Transport failure: ``{"kind": ..., "message": ...}`` (no response at all)."""
    decode_error: dict[str, str] | None = None
    """The response came but its body is not UTF-8 JSON: ``{"kind": "not_utf8"|"invalid_json", ...}``."""
    redactor: Redactor = field(default_factory=Redactor, repr=False, compare=False)
    """Masks what is written of this capture (never what is judged)."""
    body_text: str | None = field(default=None, repr=False, compare=False)
    """The JSON text ``body`` was decoded from: one pass masks it (see ``Redactor.json_document``)."""

    def mask(self, text: str) -> str:
        """``text`` (a reason, a message about this capture) masked for writing."""
        return self.redactor.text(text)

    def to_dict(self) -> dict[str, Any]:
        """What is written of the capture: every secret in its headers and body masked (the
        body last)."""
        written = self.written_fields()
        if isinstance(self.body, str):
            written["body"] = self.redactor.text(self.body)
        elif self.body_text is not None:
            written["body"] = self.redactor.json_document(self.body_text, self.body)
        else:
            written["body"] = self.redactor.obj(self.body)
        return written

    def written_fields(self) -> dict[str, Any]:
        """What is written of the capture but its body, masked."""
        # Shallow on purpose: asdict() would deep-copy every body (0.3 s for 1,000 matchups).
        written = {name: getattr(self, name) for name in _WRITTEN}
        written["headers"] = self.redactor.headers(self.headers)
        return written

    def written_body_json(self) -> str | None:
        """The body as the masked JSON text it came as, when it can be written as is: one line
        of JSON, masked exactly (see ``Redactor.json_text``). None: write :meth:`to_dict`'s."""
        text = self.body_text
        if text is None or self.truncated or "\n" in text or "\r" in text:
            return None
        masked = self.redactor.json_text(text)
        return masked.strip() if masked is not None else None


_WRITTEN = tuple(f.name for f in fields(Capture) if f.name not in ("redactor", "body_text", "body"))


def targets_for(endpoints: Iterable[EndpointSpec], matchup_ids: Sequence[str]) -> list[Target]:
    """One target per endpoint, and one per matchup id for a path that names ``{matchup_id}``."""
    targets = []
    for endpoint in endpoints:
        ids: list[str | None] = list(matchup_ids) if endpoint.per_matchup else [None]
        targets += [Target(endpoint.name, endpoint.path, matchup_id) for matchup_id in ids]
    return targets
