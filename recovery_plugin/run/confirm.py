"""Confirm before mutating: an ``apply`` shows its plan and asks, or needs ``--yes``.

The runbook's ``confirm`` says when to ask: ``always``, ``non-loopback`` (the default: a
simulated or local service never asks) or ``never``. On a terminal the operator types the
target's host name (or ``yes`` for a loopback target); without one (stdin or the prompt's stream
not a TTY, or ``CI`` set) only ``--yes`` lets the run start. A refusal is a one-line
:class:`~recovery_plugin.errors.ConfigError` (exit 2) raised before the lock and the run
directory, so nothing is left behind. Who confirmed (a
:class:`~recovery_plugin.report.model.Confirmation`) is the report's ``confirmation`` from its
first write on.
"""

from __future__ import annotations

import ipaddress
import shlex
import sys
from collections.abc import Mapping
from typing import TextIO
from urllib.parse import urlsplit

from recovery_plugin.clock import now_iso
from recovery_plugin.errors import ConfigError
from recovery_plugin.ids import printable
from recovery_plugin.records import dataclass
from recovery_plugin.report.model import Confirmation, ConfirmedBy
from recovery_plugin.resolve.context import RunContext

__all__ = ["Confirmation", "Prompt", "confirm_run", "is_loopback"]

PLAN_STEPS_SHOWN = 5
"""Reprocess steps shown one by one in the plan; the rest are counted."""
_CI_OFF = frozenset({"", "0", "false", "no"})


@dataclass(frozen=True)
class Prompt:
    """Where the confirmation is asked: the operator's input and the stream the plan goes to."""

    stdin: TextIO
    out: TextIO

    @classmethod
    def standard(cls) -> Prompt:
        return cls(sys.stdin, sys.stdout)

    def interactive(self, environ: Mapping[str, str]) -> bool:
        if environ.get("CI", "").strip().lower() not in _CI_OFF:
            return False
        return _isatty(self.stdin) and _isatty(self.out)


def is_loopback(api_base: str) -> bool:
    """True for ``localhost`` (and ``*.localhost``) and loopback addresses; no DNS lookup."""
    host = (urlsplit(api_base).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def confirm_run(
    context: RunContext, *, yes: bool = False, prompt: Prompt | None = None
) -> Confirmation | None:
    """Ask (or check ``--yes``) before an apply; None for a run that mutates nothing.

    Raises :class:`ConfigError` (exit 2) when the run is not confirmed.
    """
    if context.mode != "apply":
        return None
    api_base = context.settings.api_base
    loopback = is_loopback(api_base)
    policy = context.runbook.confirm
    if yes:
        return _confirmed("--yes")
    if policy == "never" or (policy == "non-loopback" and loopback):
        return _confirmed("config")
    prompt = prompt or Prompt.standard()
    host = urlsplit(api_base).hostname or api_base
    where = _policy_source(context)
    if not prompt.interactive(context.request.environ):
        raise ConfigError(
            f"apply against {context.redactor.text(api_base)} needs confirmation and there is no"
            f" terminal to ask on (stdin is not a TTY or CI is set): pass --yes to confirm"
            f" ({where})"
        )
    expected = "yes" if loopback else host
    _show_plan(context, prompt.out, expected)
    try:
        answer = prompt.stdin.readline()
    except KeyboardInterrupt:
        answer = ""
    typed = answer.strip()
    accepted = {expected.lower(), host.lower()} if loopback else {host.lower()}
    if typed.lower().rstrip(".") not in accepted:
        got = f"got {printable(typed)!r}" if typed else "got no answer"
        raise ConfigError(f"apply not confirmed: expected {expected!r}, {got}; nothing was run")
    return _confirmed("tty")


def _confirmed(by: ConfirmedBy) -> Confirmation:
    return Confirmation(by=by, user=_user(), host=_hostname(), at=now_iso())


def _user() -> str:
    try:
        import getpass  # only when a confirmation is recorded

        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "unknown"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or stream-less stdin
        return False


def _policy_source(context: RunContext) -> str:
    runbook = context.runbook
    if "confirm" in runbook.file_keys:
        return f'confirm = "{runbook.confirm}" in {runbook.source}'
    return f'confirm = "{runbook.confirm}" (the default)'


def _show_plan(context: RunContext, out: TextIO, expected: str) -> None:
    """The plan as the operator must judge it: target, steps with argv, id count, skips."""
    mask = context.redactor.text
    lines = [
        f"recovery-bundle apply against {mask(context.settings.api_base)}",
        f"  run {context.run_id}: {len(context.matchup_ids)} matchup id(s),"
        f" output {context.settings.output_dir}",
    ]
    reprocess = [step for step in context.plan if step.name == "reprocess"]
    for step in context.plan:
        if step.name == "reprocess" and reprocess.index(step) >= PLAN_STEPS_SHOWN:
            continue
        label = step.name if step.matchup_id is None else f"{step.name} [{step.matchup_id}]"
        if step.skip_reason is not None:
            lines.append(f"  - {label}: skipped ({step.skip_reason})")
        elif step.name == "capture":
            lines.append(f"  - {label}: {context.check_count} check(s), read-only")
        else:
            lines.append(f"  - {label}: $ {mask(shlex.join(step.command))}")
    if len(reprocess) > PLAN_STEPS_SHOWN:
        lines.append(f"  ... and {len(reprocess) - PLAN_STEPS_SHOWN} more reprocess step(s)")
    lines.append(f"Type {expected!r} to run these steps against it (anything else stops): ")
    text = "\n".join(printable(line) for line in lines)
    out.write(text)
    out.flush()


def _hostname() -> str:
    import socket  # only when a confirmation is recorded

    return socket.gethostname()
