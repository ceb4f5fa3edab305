"""What pytest keeps of a generated check's reports once every plugin has seen them.

pytest's terminal reporter keeps every report it is shown in ``stats`` until the session ends:
with 100,000 checks that is 300,000 reports. A stand-in setup or teardown report of the cheap
protocol (passed, no output, no duration) is kept there only to be counted as nothing, so it is
taken out again once every ``pytest_runtest_logreport`` hook has seen it — unless an option reads
those reports at the end (``--durations``, the ``times`` progress style), when all stay. A call
report stays (the failure summary and the counts read it); what pytest-json-report hung on it for
its own ``pytest_runtest_logreport`` (``_json_report_extra``, the metadata is in its per-test
record) is let go.
"""

from __future__ import annotations

import contextlib

import pytest

__all__ = ["KeptReports"]

_STAND_IN_CATEGORY = ""
"""The ``stats`` key of passed setup/teardown reports (their test status has no category)."""
_JSON_REPORT_EXTRA = "_json_report_extra"


class KeptReports:
    """Trims what the session keeps of a check's reports, after they have been logged."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._keep_stand_ins: bool | None = None

    def reported_stand_in(self, report: pytest.TestReport) -> None:
        """``report`` (a stand-in setup/teardown report) has been through every logreport hook."""
        if self._keeps_stand_ins():
            return
        reporter = self._config.pluginmanager.get_plugin("terminalreporter")
        stats = getattr(reporter, "stats", None)
        kept = stats.get(_STAND_IN_CATEGORY) if isinstance(stats, dict) else None
        # Only the report just added (the last one): anything else is left as it is.
        if isinstance(kept, list) and kept and kept[-1] is report:
            kept.pop()

    @staticmethod
    def reported_call(report: pytest.TestReport) -> None:
        """``report`` (a check's call report) has been through every logreport hook."""
        with contextlib.suppress(AttributeError):
            delattr(report, _JSON_REPORT_EXTRA)

    def _keeps_stand_ins(self) -> bool:
        if self._keep_stand_ins is None:
            config = self._config
            durations = config.getoption("durations", None)
            times = _ini(config, "console_output_style") == "times"
            self._keep_stand_ins = bool(durations is not None or times)
        return self._keep_stand_ins


def _ini(config: pytest.Config, name: str) -> object:
    try:
        return config.getini(name)
    except ValueError:  # not an ini option of this pytest
        return None
