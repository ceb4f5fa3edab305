"""Simulated election-poll service: the built-in target of recovery-bundle.

Importing this package imports nothing else; use the submodules (``harness``, ``data``, ``faults``,
``server``) directly so that the light ones stay light.
"""

from __future__ import annotations
