"""Hooks a team can implement in a ``conftest.py`` or a plugin to extend the runbook.

They are called in the verification session (``recovery-bundle run``/``verify``, or plain
``pytest --recovery-base-url``). A dry-run, or a run with ``--skip-capture``, has no
verification session, so these hooks are not called there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from recovery_plugin.config import EndpointSpec


@pytest.hookspec
def pytest_recovery_endpoints(config: pytest.Config, endpoints: list[EndpointSpec]) -> None:
    """Add, remove or replace endpoint checks before they are collected.

    ``endpoints`` is a mutable list of :class:`recovery_plugin.EndpointSpec`; change it in place,
    e.g. ``endpoints.append(EndpointSpec(name="metrics", path="/metrics", expect_status=200))``.
    """


@pytest.hookspec
def pytest_recovery_checklist(report: dict[str, Any], checklist: list[str]) -> None:
    """Append lines to the ops checklist (``checklist``), e.g. a team's escalation contact.

    ``report`` is the report as it will be written (read it, do not change it here).
    """


@pytest.hookspec
def pytest_recovery_report(report: dict[str, Any]) -> None:
    """Last look at the report (a JSON-ready dict) before it is written; change it in place."""
