"""Enabling the plugin: hookspecs, the marker, and the session — only when asked for.

Inert unless enabled: the session is registered only when the launcher hands pytest a
:class:`~recovery_plugin.pytest_plugin.session.SessionSpec`, or when ``--recovery-base-url``
(ini ``recovery_base_url``) is given. Loaded into an unrelated session the plugin adds
options, hooks and fixtures, and does nothing else.
"""

from __future__ import annotations

import pytest

from recovery_plugin.pytest_plugin.items import MARKER
from recovery_plugin.pytest_plugin.session import SESSION, SESSION_SPEC, VerificationSession

__all__ = ["pytest_addhooks", "pytest_configure"]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from recovery_plugin.pytest_plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(endpoint, matchup_id): a generated recovery-bundle endpoint check"
    )
    spec = config.stash.get(SESSION_SPEC, None)
    if spec is None:
        from recovery_plugin.pytest_plugin.gate import gate_from_options

        spec = gate_from_options(config)
        if spec is None:
            return  # not enabled: stay inert
        config.stash[SESSION_SPEC] = spec
    _ensure_json_report(config)
    session = VerificationSession(config, spec)
    spec.session = session
    config.stash[SESSION] = session
    config.pluginmanager.register(session, "recovery-verification")


def _ensure_json_report(config: pytest.Config) -> None:
    """Make sure a pytest-json-report collector runs: its outcomes feed the runbook report."""
    from pytest_jsonreport.plugin import JSONReport

    if not hasattr(config.option, "json_report_omit"):  # its options were never added
        raise pytest.UsageError(
            "recovery: the pytest-json-report plugin is not loaded (is plugin autoloading"
            " disabled?): add -p pytest_jsonreport.plugin"
        )
    if any(isinstance(p, JSONReport) for p in config.pluginmanager.get_plugins()):
        return
    if not config.option.json_report:
        config.option.json_report_file = None  # collect outcomes, save nothing on its behalf
        if config.option.json_report_verbosity is None:
            config.option.json_report_verbosity = 0  # and say nothing about it in the terminal
    config.pluginmanager.register(JSONReport(config), "recovery-json-report")
