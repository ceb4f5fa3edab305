"""Time as the harness uses it: UTC ISO 8601 timestamps with milliseconds, and cancellable waits."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

__all__ = ["interruptible_sleep", "new_run_id", "now_iso"]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    """``YYYYmmddTHHMMSSZ-xxxxxx``: sorts by start time, unique across concurrent runs."""
    # os.urandom, as secrets.token_hex uses, without importing secrets (it loads OpenSSL).
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + os.urandom(3).hex()


def interruptible_sleep(cancel: threading.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less when ``cancel`` is set meanwhile (a retry wait, a poll interval)."""
    cancel.wait(seconds)
