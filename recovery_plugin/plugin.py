"""The ``recovery`` pytest plugin (entry point ``recovery``, or ``-p recovery_plugin.plugin``).

This module is what pytest registers: it names the plugin's hooks and fixtures, which live in
:mod:`recovery_plugin.pytest_plugin`. Inert unless enabled (see
:mod:`recovery_plugin.pytest_plugin.configure`).
"""

from __future__ import annotations

from recovery_plugin.pytest_plugin.captures import recovery_captures
from recovery_plugin.pytest_plugin.configure import pytest_addhooks, pytest_configure
from recovery_plugin.pytest_plugin.fixtures import recovery_sim, run_bundle
from recovery_plugin.pytest_plugin.options import pytest_addoption

__all__ = [
    "pytest_addhooks",
    "pytest_addoption",
    "pytest_configure",
    "recovery_captures",
    "recovery_sim",
    "run_bundle",
]
