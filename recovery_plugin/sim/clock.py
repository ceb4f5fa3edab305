"""Timestamps used by the simulated service and its commands (UTC, ISO 8601, microseconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["iso", "later_than", "utc_now", "utc_now_iso"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 with a fixed width (always microseconds), so strings sort like instants."""
    return moment.isoformat(timespec="microseconds")


def utc_now_iso() -> str:
    return iso(utc_now())


def later_than(previous_iso: str | None) -> str:
    """Now, but strictly after ``previous_iso`` (so an update always changes the timestamp)."""
    now = utc_now()
    if previous_iso:
        try:
            previous = datetime.fromisoformat(previous_iso)
        except ValueError:
            return iso(now)
        if previous.tzinfo is not None and now <= previous:
            now = previous + timedelta(microseconds=1)
    return iso(now)
