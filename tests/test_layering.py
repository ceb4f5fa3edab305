"""The package's shape: exported names, one-way imports, light start-up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import recovery_plugin

PACKAGE = Path(recovery_plugin.__file__).parent


def _imports(path: Path) -> set[str]:
    """Top-level module names imported anywhere in ``path`` (lazy imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_exported_members() -> None:
    for name in recovery_plugin.__all__:
        value = getattr(recovery_plugin, name)
        if name != "__version__":
            assert value.__module__.startswith("recovery_plugin."), name
    assert set(recovery_plugin.__all__) <= set(dir(recovery_plugin))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        recovery_plugin.nope  # noqa: B018


def test_only_the_cli_imports_click() -> None:
    importers = sorted(
        p.name
        for p in PACKAGE.rglob("*.py")
        if any(m.split(".")[0] == "click" for m in _imports(p))
    )
    assert importers == ["cli.py"]


def test_imports_run_one_way() -> None:
    # cli -> runner -> steps/capture/report; nothing below the CLI reaches back up to it.
    for path in PACKAGE.rglob("*.py"):
        if path.name in ("cli.py", "__main__.py"):
            continue
        assert "recovery_plugin.cli" not in _imports(path), path
    for lower in (
        "run/steps.py",
        "run/process.py",
        "http/capture.py",
        "http/checks.py",
        "report/writer.py",
        "report/checklist.py",
        "pytest_plugin/session.py",
        "plugin.py",
    ):
        assert "recovery_plugin.run.pipeline" not in _imports(PACKAGE / lower), lower


def test_the_sim_is_independent_of_the_harness_core() -> None:
    allowed = {"recovery_plugin.atomic", "recovery_plugin.validate", "recovery_plugin.procgroup"}
    for path in (PACKAGE / "sim").glob("*.py"):
        core = {
            m
            for m in _imports(path)
            if m.startswith("recovery_plugin.") and not m.startswith("recovery_plugin.sim")
        }
        assert core <= allowed, (path.name, core)


def _loaded_after(statement: str) -> list[str]:
    heavy = "('click', 'pytest', 'httpx', 'tenacity')"
    probe = f"import sys\n{statement}\nprint(sorted(m for m in {heavy} if m in sys.modules))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: list[str] = ast.literal_eval(proc.stdout.strip())
    return loaded


def test_importing_the_package_or_the_plugin_stays_light() -> None:
    assert _loaded_after("import recovery_plugin") == []
    assert _loaded_after("import recovery_plugin.cli") == ["click"]
    assert _loaded_after("import recovery_plugin.plugin") == [
        "pytest"
    ]  # no click, no httpx until enabled
