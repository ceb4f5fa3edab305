"""Timestamps as every record writes them: UTC, ISO 8601, milliseconds."""

from __future__ import annotations

import os
from datetime import UTC, datetime

__all__ = ["new_run_id", "now_iso"]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    """``YYYYmmddTHHMMSSZ-xxxxxx``: sorts by start time, unique across concurrent runs."""
    # os.urandom, as secrets.token_hex uses, without importing secrets (it loads OpenSSL).
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + os.urandom(3).hex()
