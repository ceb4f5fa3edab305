"""Where the modules outside http/ import capturing from (fetch, batch and capture file in one).

New code imports the module that defines the name: :mod:`~recovery_plugin.http.fetch`,
:mod:`~recovery_plugin.http.batch`, :mod:`~recovery_plugin.http.capture_file`.
"""

from __future__ import annotations

from recovery_plugin.http.batch import CaptureBatch, Readiness
from recovery_plugin.http.capture_file import write_capture_file
from recovery_plugin.http.fetch import Capture, Target, capture_all, fetch, make_client, targets_for

__all__ = [
    "Capture",
    "CaptureBatch",
    "Readiness",
    "Target",
    "capture_all",
    "fetch",
    "make_client",
    "targets_for",
    "write_capture_file",
]
