"""``--canary``, ``--batch-size`` and ``--max-failures``: parsed and checked before anything runs.

Each takes a count of ids (``N``) or a share of the run's reprocess ids (``P%``). A share of
ids for a batch rounds up (``10%`` of 5 ids is 1 id); a failure ceiling rounds down, so
``--max-failures 10%`` of 5 ids tolerates 0 failures (Ansible's ``max_fail_percentage``).
"""

from __future__ import annotations

import math
import re

from recovery_plugin.errors import ConfigError
from recovery_plugin.records import dataclass

__all__ = ["Amount", "BatchPolicy", "parse_amount", "parse_batch_policy"]

_AMOUNT = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<percent>%?)")


@dataclass(frozen=True)
class Amount:
    """``N`` ids, or ``P%`` of them; ``text`` is the value as given (for messages)."""

    value: float
    percent: bool
    text: str

    def of(self, total: int, *, round_up: bool) -> int:
        if not self.percent:
            return int(self.value)
        share = self.value * total / 100
        return math.ceil(share) if round_up else math.floor(share)


@dataclass(frozen=True)
class BatchPolicy:
    """How the reprocess steps are scheduled; all ``None``: at once, as before."""

    canary: Amount | None = None
    batch_size: Amount | None = None
    max_failures: Amount | None = None

    @property
    def batched(self) -> bool:
        return self.canary is not None or self.batch_size is not None

    def split(self, ids: list[str]) -> list[tuple[str, list[str]]]:
        """``(kind, ids)`` per batch: the canary first, then batches of ``--batch-size``."""
        if not self.batched or not ids:
            return []
        batches: list[tuple[str, list[str]]] = []
        rest = list(ids)
        if self.canary is not None:
            size = max(1, self.canary.of(len(ids), round_up=True))
            batches.append(("canary", rest[:size]))
            rest = rest[size:]
        size = len(rest)
        if self.batch_size is not None:
            size = max(1, self.batch_size.of(len(ids), round_up=True))
        while rest:
            batches.append(("batch", rest[:size]))
            rest = rest[size:]
        return batches

    def failure_limit(self, total: int) -> int | None:
        """How many failed reprocess steps are tolerated; more crosses the ceiling."""
        if self.max_failures is None:
            return None
        return self.max_failures.of(total, round_up=False)


def parse_amount(flag: str, text: str, *, minimum: int) -> Amount:
    """``N`` (a whole number) or ``P%`` (up to 100), each at least ``minimum``."""
    match = _AMOUNT.fullmatch(text.strip())
    if match is None or (not match["percent"] and "." in match["number"]):
        raise ConfigError(
            f"{flag}: expected a number of ids (N) or a percentage (P%), got {text!r}"
        )
    value = float(match["number"])
    if match["percent"]:
        if value > 100 or value < minimum:
            raise ConfigError(
                f"{flag}: a percentage must be between {minimum}% and 100%, got {text!r}"
            )
    elif value < minimum:
        raise ConfigError(f"{flag}: must be at least {minimum}, got {text!r}")
    return Amount(value, bool(match["percent"]), text.strip())


def parse_batch_policy(
    canary: str | None, batch_size: str | None, max_failures: str | None
) -> BatchPolicy:
    """The policy from the flags as given; a bad value is one :class:`ConfigError` naming its flag."""
    return BatchPolicy(
        canary=None if canary is None else parse_amount("--canary", canary, minimum=1),
        batch_size=None
        if batch_size is None
        else parse_amount("--batch-size", batch_size, minimum=1),
        max_failures=(
            None
            if max_failures is None
            else parse_amount("--max-failures", max_failures, minimum=0)
        ),
    )
