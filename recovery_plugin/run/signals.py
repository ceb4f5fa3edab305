"""SIGINT/SIGTERM during a run: a cancel event for the steps, a KeyboardInterrupt inside pytest."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from recovery_plugin.errors import ExitCode

__all__ = ["Interrupt"]


class Interrupt:
    """Turns SIGINT/SIGTERM into :attr:`cancel` (and a KeyboardInterrupt while pytest runs)."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.signum: int | None = None
        self.in_pytest = False

    @property
    def happened(self) -> bool:
        return self.signum is not None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        self.signum = signum
        self.cancel.set()
        if self.in_pytest and first:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @contextlib.contextmanager
    def pytest_running(self) -> Iterator[None]:
        """While pytest runs, the first signal raises KeyboardInterrupt, which pytest turns
        into an orderly end of the session (its outcomes are still reported)."""
        self.in_pytest = True
        try:
            yield
        finally:
            self.in_pytest = False

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.TERMINATED if self.signum == signal.SIGTERM else ExitCode.INTERRUPTED
