"""A cheaper run protocol for the generated checks: the call phase only, with stand-in reports.

An :class:`~recovery_plugin.pytest_plugin.items.EndpointCheck` uses no fixtures, so pytest's
setup and teardown phases do nothing for it but cost two hook rounds each. When nothing but
pytest's own plugins, pytest-json-report and ours listens to those phases, and the item carries
no marker that a phase would act on (skip, xfail, usefixtures, ...), the check runs its call
phase through the usual hooks and the setup and teardown phases are reported as passed,
through ``pytest_runtest_logreport``: JUnit XML, pytest-json-report and user hooks still see
the three reports of every item. Anything else gets pytest's own protocol. Once every hook has
seen them, what the session would keep of the reports is trimmed (see ``kept_reports``).
"""

from __future__ import annotations

import bdb
import time
from collections.abc import Callable
from typing import Any, Literal

import pytest

from recovery_plugin.pytest_plugin.items import EndpointCheck
from recovery_plugin.pytest_plugin.kept_reports import KeptReports

__all__ = ["CheapProtocol"]

_KNOWN_PHASE_PLUGINS = frozenset(
    {
        "_pytest.runner",  # the fixture stack: a check uses no fixtures
        "_pytest.skipping",  # skip/xfail marks: a check with any marker gets the full protocol
        "_pytest.capture",
        "_pytest.threadexception",
        "_pytest.unraisableexception",
        "pytest_jsonreport.plugin",
    }
)
"""Modules whose setup/teardown hooks do nothing for a generated check (``_pytest.logging``'s
call phase needs its setup: a session with log capture on gets pytest's own protocol)."""


def _plugin_module(plugin: object) -> str:
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str) and hasattr(plugin, "__file__"):  # a module
        return name
    return type(plugin).__module__


class CheapProtocol:
    """Decides, per item, whether the cheap protocol applies, and runs it."""

    def __init__(self, own_marker: str) -> None:
        self._own_marker = own_marker
        self._phases_quiet: dict[object, bool] = {}
        self._kept: KeptReports | None = None

    def applies(self, item: pytest.Item) -> bool:
        marks = item.marks_besides_own() if isinstance(item, EndpointCheck) else item.iter_markers()
        if any(mark.name != self._own_marker for mark in marks):
            return False
        if item.config.getoption("setupshow", False) or item.config.getoption("setuponly", False):
            return False
        key = item.path
        quiet = self._phases_quiet.get(key)
        if quiet is None:
            quiet = self._phases_quiet[key] = self._only_known_phase_hooks(item)
        return quiet

    @staticmethod
    def _only_known_phase_hooks(item: pytest.Item) -> bool:
        ihook = item.ihook
        for caller in (ihook.pytest_runtest_setup, ihook.pytest_runtest_teardown):
            for impl in caller.get_hookimpls():
                module = _plugin_module(impl.plugin)
                if module not in _KNOWN_PHASE_PLUGINS and not module.startswith("recovery_plugin."):
                    return False
        return True

    def run(self, item: pytest.Item) -> None:
        ihook = item.ihook
        kept = self._kept
        if kept is None:
            kept = self._kept = KeptReports(item.config)
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        keywords = {name: 1 for name in item.keywords}
        setup = self._passed(item, "setup", keywords)
        ihook.pytest_runtest_logreport(report=setup)
        kept.reported_stand_in(setup)
        kept.reported_call(self._call(item))
        teardown = self._passed(item, "teardown", keywords)
        ihook.pytest_runtest_logreport(report=teardown)
        kept.reported_stand_in(teardown)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)

    @staticmethod
    def _passed(
        item: pytest.Item, when: Literal["setup", "teardown"], keywords: dict[str, Any]
    ) -> pytest.TestReport:
        now = time.time()
        return pytest.TestReport(
            item.nodeid,
            item.location,
            keywords,
            "passed",
            None,
            when,
            (),
            0.0,
            now,
            now,
            item.user_properties,
        )

    @staticmethod
    def _call(item: pytest.Item) -> pytest.TestReport:
        """The call phase exactly as pytest runs it (``_pytest.runner.call_and_report``)."""
        ihook = item.ihook
        reraise: tuple[type[BaseException], ...] = (pytest.exit.Exception,)
        if not item.config.getoption("usepdb", False):
            reraise += (KeyboardInterrupt,)
        run_call: Callable[[], None] = lambda: ihook.pytest_runtest_call(item=item)  # noqa: E731
        call = pytest.CallInfo.from_call(run_call, when="call", reraise=reraise)
        report: pytest.TestReport = ihook.pytest_runtest_makereport(item=item, call=call)
        ihook.pytest_runtest_logreport(report=report)
        interactive = (
            call.excinfo is not None
            and not hasattr(report, "wasxfail")
            and not isinstance(call.excinfo.value, (pytest.skip.Exception, bdb.BdbQuit))
        )
        if interactive:
            ihook.pytest_exception_interact(node=item, call=call, report=report)
        return report
