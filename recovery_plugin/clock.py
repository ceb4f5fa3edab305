"""Timestamps as every record writes them: UTC, ISO 8601, milliseconds."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

__all__ = ["new_run_id", "now_iso"]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    """``YYYYmmddTHHMMSSZ-xxxxxx``: sorts by start time, unique across concurrent runs."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
