"""What pytest keeps of a generated check's reports once every plugin has seen them.

pytest's terminal reporter keeps every report it is shown in ``stats`` until the session ends:
with 100,000 checks that is 300,000 reports. A stand-in setup or teardown report of the cheap
protocol (passed, no output, no duration) is kept there only to be counted as nothing, so it is
taken out again once every ``pytest_runtest_logreport`` hook has seen it — unless an option reads
those reports at the end (``--durations``, the ``times`` progress style), when all stay.

A call report stays in ``stats`` (the counts and the failure summary read it), but as a
:class:`KeptCallReport`: only what the terminal reads at the end (node id, location, outcome,
the check's reasons, duration), about a fifth of the report's size. What pytest-json-report hung
on it for its own ``pytest_runtest_logreport`` (``_json_report_extra``, the metadata is in its
per-test record) goes with the rest. A report anybody added an attribute to, or with captured
output, stays as it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

__all__ = ["KeptCallReport", "KeptReports"]

_STAND_IN_CATEGORY = ""
"""The ``stats`` key of passed setup/teardown reports (their test status has no category)."""
_JSON_REPORT_EXTRA = "_json_report_extra"
_TEST_REPORT_FIELDS = frozenset(
    (
        "nodeid",
        "location",
        "keywords",
        "outcome",
        "longrepr",
        "when",
        "user_properties",
        "sections",
        "duration",
        "start",
        "stop",
        _JSON_REPORT_EXTRA,
    )
)
"""What ``TestReport.__init__`` and pytest-json-report set: a report with more is left whole."""
_CATEGORY = {"passed": "passed", "failed": "failed"}
"""``stats`` keys of a call report's outcome (a skipped check is left whole: its reason is a tuple
pytest's summary takes apart)."""


class KeptCallReport(pytest.TestReport):
    """A logged call report as the terminal reporter keeps it until the session ends: a
    ``TestReport`` (counts, colours, ``-r`` lines and the ``--tb=line`` summary work as for any
    report) holding only the node id, location, outcome, reasons and duration. Read-only
    leftovers answer empty: no sections, keywords or user properties (every hook has seen the
    report whole before it is kept)."""

    # Empty and immutable: shared by every kept report, a write fails instead of leaking.
    keywords: Mapping[str, Any] = MappingProxyType({})
    sections = ()  # type: ignore[assignment]
    user_properties = ()  # type: ignore[assignment]
    start = 0.0
    stop = 0.0

    def __init__(self, report: pytest.TestReport) -> None:  # no super(): nothing to build again
        self.nodeid = report.nodeid
        self.location = report.location
        self.outcome = report.outcome
        self.longrepr = report.longrepr
        self.when = report.when
        self.duration = report.duration


class KeptReports:
    """Trims what the session keeps of a check's reports, after they have been logged."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._keep_whole: bool | None = None

    def reported_stand_in(self, report: pytest.TestReport) -> None:
        """``report`` (a stand-in setup/teardown report) has been through every logreport hook."""
        if self._keeps_whole_reports():
            return
        kept = self._stats(_STAND_IN_CATEGORY)
        # Only the report just added (the last one): anything else is left as it is.
        if kept and kept[-1] is report:
            kept.pop()

    def _stats(self, category: str) -> list[object] | None:
        """The terminal reporter's kept reports of ``category`` (None: no reporter, or not a
        list there)."""
        reporter = self._config.pluginmanager.get_plugin("terminalreporter")
        stats = getattr(reporter, "stats", None)
        kept = stats.get(category) if isinstance(stats, dict) else None
        return kept if isinstance(kept, list) else None

    def reported_call(self, report: pytest.TestReport) -> None:
        """``report`` (a check's call report) has been through every logreport hook."""
        with contextlib.suppress(AttributeError):
            delattr(report, _JSON_REPORT_EXTRA)
        category = _CATEGORY.get(report.outcome)
        if category is None or self._keeps_whole_reports() or report.sections:
            return
        if (
            not _TEST_REPORT_FIELDS.issuperset(vars(report))
            or type(report) is not pytest.TestReport
        ):
            return  # a hook added to it (wasxfail, ...), or a plugin's own report class
        kept = self._stats(category)
        if kept and kept[-1] is report:
            kept[-1] = KeptCallReport(report)

    def _keeps_whole_reports(self) -> bool:
        if self._keep_whole is None:
            config = self._config
            durations = config.getoption("durations", None)
            times = _ini(config, "console_output_style") == "times"
            self._keep_whole = bool(durations is not None or times)
        return self._keep_whole


def _ini(config: pytest.Config, name: str) -> object:
    try:
        return config.getini(name)
    except ValueError:  # not an ini option of this pytest
        return None
