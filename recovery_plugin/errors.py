"""Exit codes and the one exception type that carries a user-facing, one-line error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import Any

__all__ = ["ConfigError", "ExitCode", "RecoveryError", "config_table"]


class ExitCode(IntEnum):
    """Documented exit codes of ``recovery-bundle`` (see README, "Exit codes")."""

    OK = 0
    """Success, or a dry-run that planned every step."""
    FAILED = 1
    """A step or a verification check failed (the report says which)."""
    USAGE = 2
    """Bad flag, bad configuration, unreachable or unwritable path: nothing ran."""
    WRITE_FAILED = 74
    """A file of the run could not be written (a full disk, EX_IOERR): the run stopped there; the
    report (shortened if it had to be) and the console say which file and why."""
    LOCKED = 75
    """Another ``apply`` holds the output directory's lock (EX_TEMPFAIL: try again later)."""
    INTERRUPTED = 130
    """Stopped by SIGINT (Ctrl-C); the report says ``interrupted``."""
    TERMINATED = 143
    """Stopped by SIGTERM; the report says ``interrupted``."""


class RecoveryError(Exception):
    """An error the user can act on: printed as one line, never as a traceback."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(RecoveryError):
    """A bad value in the configuration; the message names the source (flag, env var, file + key)."""


def config_table(raw: object, where: str, known: Sequence[str], expected: str) -> Mapping[str, Any]:
    """``raw`` as a table whose keys are all in ``known``, else a :class:`ConfigError`.

    ``where`` names the table (``recovery.toml: endpoints[2].poll``); ``expected`` completes
    "must be ..." when ``raw`` is not a table at all.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be {expected}")
    for key in raw:
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown key (known keys: {', '.join(known)})")
    return raw
