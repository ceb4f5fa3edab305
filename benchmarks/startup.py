"""Start-up without cached bytecode, and what a dry-run imports that it does not need.

A fresh copy of the package (no ``__pycache__``) run with ``PYTHONDONTWRITEBYTECODE=1`` is what
an install that leaves no bytecode costs on every run. The import audit runs the dry-run under
``python -S -X importtime`` with this interpreter's ``sys.path`` (so no ``.pth`` file of the machine
imports anything first) and lists the modules it imports that ``import click`` does not.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

UNNEEDED = {
    "tempfile": "run/pipeline.py `import tempfile` (module level) for the output-dir write probe",
    "hashlib": "ids.py `safe_name` (`import hashlib`, OpenSSL) for each reprocess step dir",
    "tomllib": "config/runbook.py `find_config_file` imports it before knowing pyproject.toml exists",
}


def fresh_copy(work: Path) -> Path:
    """A copy of ``recovery_plugin`` without bytecode; put the returned directory on PYTHONPATH."""
    target = work / "no-bytecode"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(
        ROOT / "recovery_plugin",
        target / "recovery_plugin",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return target


def _imports(argv: list[str], cwd: Path) -> dict[str, int]:
    """Module -> cumulative import time (us) of ``argv`` (a ``-c`` program) under ``-S -X importtime``."""
    boot = f"import sys; sys.path[:] = {json.dumps(sys.path)}; "
    proc = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-c", boot + argv[0], *argv[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        parts = line[len("import time:") :].split("|")
        found[parts[2].strip()] = int(parts[1])
    return found


def import_audit(dry_run_args: list[str], cwd: Path) -> list[tuple[str, float, str]]:
    """Top-level modules a dry-run imports beyond ``import click``: (name, ms cumulative, note)."""
    click = _imports(["import click"], cwd)
    run = (
        "import sys, runpy; sys.argv = ['recovery-bundle', *sys.argv[1:]];"
        " runpy.run_module('recovery_plugin', run_name='__main__')"
    )
    dry = _imports([run, *dry_run_args], cwd)
    extra = {name: us for name, us in dry.items() if name not in click and "." not in name}
    rows = [
        (name, us / 1000, UNNEEDED.get(name, ""))
        for name, us in sorted(extra.items(), key=lambda item: -item[1])
        if not name.startswith("recovery_plugin") and name not in ("runpy",)
    ]
    return rows[:15]
