"""How many capture requests are in flight at once: up to the configured cap, fewer when the
server shows strain.

The limit starts at the cap (``capture.concurrency``) and halves when the server answers with an
overload status (429, 502, 503, 504), a request gets no response at all, or latency grows well
past the best seen so far (and stays down while it does); it grows back by one after each
limit's worth of healthy answers.
At most one halving per limit's worth of answers, so a burst of failures already in flight
counts once. With a cap of 1 there is nothing to adapt: the strategy is ``fixed``.
"""

from __future__ import annotations

import threading
from typing import Any

from recovery_plugin.records import dataclass

__all__ = ["OVERLOAD_STATUSES", "AdaptiveLimit"]

OVERLOAD_STATUSES = frozenset({429, 502, 503, 504})
_EWMA_WEIGHT = 0.1
_LATENCY_GROWTH = 3.0
"""Back off when the smoothed latency is this many times the best smoothed latency seen..."""
_LATENCY_SLACK_S = 0.25
"""...and at least this much slower (a busy 2-core CI machine adds tens of milliseconds of its own)."""


@dataclass
class _Stats:
    ewma_s: float | None = None
    best_s: float | None = None
    since_change: int = 0
    strain_seen: bool = False
    backoffs: int = 0


class AdaptiveLimit:
    """A concurrency limit between 1 and ``cap``: acquire before a request, release after it."""

    def __init__(self, cap: int) -> None:
        self.cap = max(1, cap)
        self.strategy = "adaptive" if self.cap > 1 else "fixed"
        self.limit = self.cap
        self._in_flight = 0
        self._stats = _Stats()
        self._changed = threading.Condition()

    def acquire(self) -> None:
        with self._changed:
            while self._in_flight >= self.limit:
                self._changed.wait()
            self._in_flight += 1

    def release(self, *, status: int | None, elapsed_s: float, failed: bool = False) -> None:
        """One request is done: ``status`` None or ``failed`` means no response came."""
        with self._changed:
            self._in_flight -= 1
            if self.strategy == "adaptive":
                self._adapt(strained=self._strained(status, elapsed_s, failed))
            self._changed.notify_all()

    def _strained(self, status: int | None, elapsed_s: float, failed: bool) -> bool:
        if failed or status is None or status in OVERLOAD_STATUSES:
            return True
        stats = self._stats
        ewma = elapsed_s if stats.ewma_s is None else stats.ewma_s
        ewma += _EWMA_WEIGHT * (elapsed_s - ewma)
        stats.ewma_s = ewma
        if stats.best_s is None or ewma < stats.best_s:
            stats.best_s = ewma
        return ewma > stats.best_s * _LATENCY_GROWTH and ewma - stats.best_s > _LATENCY_SLACK_S

    def _adapt(self, *, strained: bool) -> None:
        stats = self._stats
        stats.since_change += 1
        stats.strain_seen = stats.strain_seen or strained
        if stats.since_change < self.limit:
            return  # one change per limit's worth of answers
        if stats.strain_seen and self.limit > 1:
            self.limit = max(1, self.limit // 2)
            stats.backoffs += 1
        elif not stats.strain_seen and self.limit < self.cap:
            self.limit += 1
        stats.since_change = 0
        stats.strain_seen = False

    def to_dict(self) -> dict[str, Any]:
        """The report's ``verification.concurrency``."""
        with self._changed:
            return {
                "strategy": self.strategy,
                "cap": self.cap,
                "final": self.limit,
                "backoffs": self._stats.backoffs,
            }
