"""The finished verification session is let go before the report is built.

What keeps it alive otherwise: the relay of the report hooks (it holds the plugin manager, and
so every plugin and what it kept of 100,000 checks) and pytest's post-mortem
``sys.last_traceback`` (its frames hold the last failed item, and through it the session).
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from recovery_plugin.pytest_plugin.session import PytestReportHooks, report_hooks
from recovery_plugin.report.result import NO_HOOKS
from recovery_plugin.run import verification


class _Caller:
    def __init__(self, impls: list[object]) -> None:
        self._impls = impls

    def get_hookimpls(self) -> list[object]:
        return self._impls


class _Hook:
    def __init__(self, checklist: list[object], report: list[object]) -> None:
        self.pytest_recovery_checklist = _Caller(checklist)
        self.pytest_recovery_report = _Caller(report)


def test_no_relay_is_kept_when_no_plugin_implements_the_report_hooks() -> None:
    assert report_hooks(_Hook([], [])) is NO_HOOKS


@pytest.mark.parametrize("implemented", [([object()], []), ([], [object()])])
def test_a_plugin_implementing_a_report_hook_gets_the_relay(
    implemented: tuple[list[object], list[object]],
) -> None:
    assert isinstance(report_hooks(_Hook(*implemented)), PytestReportHooks)


def test_an_unknown_hook_relay_is_relayed_as_always() -> None:
    assert isinstance(report_hooks(object()), PytestReportHooks)


def test_pytests_post_mortem_of_the_session_is_forgotten_and_an_earlier_one_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    earlier = ValueError("the caller's own")
    monkeypatch.setattr(sys, "last_value", earlier, raising=False)
    for name in ("last_type", "last_traceback", "last_exc"):
        monkeypatch.delattr(sys, name, raising=False)
    before = verification._last_exception()

    failure: Any = AssertionError("a check failed")
    sys.last_type, sys.last_value = AssertionError, failure  # as pytest leaves them
    sys.last_traceback = None
    verification._let_the_session_go(before)

    assert sys.last_value is earlier
    assert not hasattr(sys, "last_type")
    assert getattr(sys, "last_traceback", None) is None
