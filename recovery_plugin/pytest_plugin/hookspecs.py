"""Hooks a team can implement in a ``conftest.py`` or a plugin to extend the runbook.

They are called in the verification session (``recovery-bundle run``/``verify``, or plain
``pytest --recovery-base-url``). A dry-run, or a run with ``--skip-capture``, has no
verification session, so these hooks are not called there. In the launcher's session a
``conftest.py`` is picked up from the ``--checks-dir`` directory.

A ``conftest.py`` that implements them is also loaded by sessions without the ``recovery``
plugin (``-p no:recovery``); mark the implementations ``@pytest.hookimpl(optionalhook=True)``
if that can happen, or pytest rejects them as unknown hooks.

Reference, with examples: docs/plugin.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from recovery_plugin.config import EndpointSpec

__all__ = ["pytest_recovery_checklist", "pytest_recovery_endpoints", "pytest_recovery_report"]


@pytest.hookspec
def pytest_recovery_endpoints(config: pytest.Config, endpoints: list[EndpointSpec]) -> None:
    """Add, remove or replace endpoint checks before they are collected.

    ``endpoints`` is the mutable list of :class:`recovery_plugin.config.EndpointSpec` from the
    runbook; change it in place, e.g.
    ``endpoints.append(EndpointSpec(name="metrics", path="/metrics", expect_status=200))``.
    A path containing ``{matchup_id}`` is checked once per matchup id. Every implementation is
    called, in pytest's usual hook order; the return value is ignored.
    """


@pytest.hookspec
def pytest_recovery_checklist(report: dict[str, Any], checklist: list[str]) -> None:
    """Append lines to the ops checklist (``checklist``), e.g. a team's escalation contact.

    Called once, when the verification session ends and the report is about to be written.
    ``report`` is the report as it will be written (read it, do not change it here: use
    :func:`pytest_recovery_report`). Lines appended here are written to the report's
    ``ops_checklist``; one starting ``retry-guide:`` or ``rollback-guide:`` is a guide, also
    printed by the launcher and listed in the Markdown (``GITHUB_STEP_SUMMARY``) summary.
    """


@pytest.hookspec
def pytest_recovery_report(report: dict[str, Any]) -> None:
    """Last look at the report (a JSON-ready dict) before it is written; change it in place.

    Called after :func:`pytest_recovery_checklist`, with the final status and checklist. Keep
    it JSON-serialisable; every string is still masked for secrets when written.
    """
