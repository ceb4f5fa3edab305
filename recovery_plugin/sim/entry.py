"""The ``main()`` shared by the simulated service's commands (``ingest``, ``reprocess``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from recovery_plugin.sim.faults import Faults, FaultsError, load_faults, resolve_faults_path

__all__ = ["run_command"]

Execute = Callable[[argparse.Namespace, Path | None, Faults], int]


def run_command(name: str, execute: Execute, args: argparse.Namespace) -> int:
    """Load the faults file named by ``args.faults`` (or the environment), then ``execute``.

    An invalid faults file or an ``OSError`` becomes one line on stderr and exit status 1.
    """
    try:
        faults_path = resolve_faults_path(args.faults)
        faults = load_faults(faults_path)
    except FaultsError as exc:
        print(f"{name}: invalid faults file: {exc}", file=sys.stderr)
        return 1
    try:
        return execute(args, faults_path, faults)
    except OSError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
