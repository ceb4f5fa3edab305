"""``python -m recovery_plugin`` is ``recovery-bundle``."""

from __future__ import annotations

from recovery_plugin.cli import main

main()
