"""The package's shape: exported names, one-way imports, light start-up."""

from __future__ import annotations

import ast
import importlib
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
    importers = {
        p.relative_to(PACKAGE).parts[0]
        for p in PACKAGE.rglob("*.py")
        if any(m.split(".")[0] == "click" for m in _imports(p))
    }
    assert importers == {"cli"}


# Each package (or top-level module) and the layer it sits on: a module may import only from its
# own package or from a lower layer, so imports run one way:
# cli -> run -> plugin -> pytest_plugin -> resolve/render -> report -> http -> config -> base.
LAYERS: dict[str, int] = {
    "__main__": 11,
    "cli": 10,
    "demo": 9,
    "run": 8,  # it hands the entry-point module to the session it starts
    "plugin": 7,  # the entry-point module: names the hooks and fixtures of pytest_plugin
    "pytest_plugin": 6,
    "resolve": 5,
    "render": 5,
    "report": 4,
    "http": 3,
    "config": 2,
    "sim": 1,
    "base": 0,
}
# The base: small helpers that everything may use; they import only each other.
BASE = {
    "__init__",
    "errors",
    "clock",
    "atomic",
    "ids",
    "redact",
    "names",
    "validate",
    "procgroup",
    "records",
    "lazy",
}
# The package's own __init__ only names things lazily (PEP 562): it may point anywhere.
LAZY_EXPORTERS = {"recovery_plugin"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _internal_imports(path: Path) -> set[str]:
    """The package's modules that ``path`` imports (lazy and type-checking imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(name for name in names if name in MODULES)
    return found


def _layer(module: str) -> tuple[str, int]:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"
    key = "base" if key in BASE else key
    assert key in LAYERS, f"{module}: no layer assigned; add its package to LAYERS"
    return key, LAYERS[key]


GRAPH = {name: _internal_imports(path) - {name} for name, path in MODULES.items()}


def test_every_module_has_a_layer_and_imports_only_down() -> None:
    wrong = []
    for module, imported in GRAPH.items():
        if module in LAZY_EXPORTERS:
            continue
        package, level = _layer(module)
        for target in imported:
            target_package, target_level = _layer(target)
            if target_package != package and target_level >= level:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_the_sim_is_independent_of_the_harness_core() -> None:
    allowed = {
        "recovery_plugin.atomic",
        "recovery_plugin.validate",
        "recovery_plugin.procgroup",
        "recovery_plugin.records",
    }
    for path in (PACKAGE / "sim").rglob("*.py"):
        core = {
            m
            for m in _imports(path)
            if m.startswith("recovery_plugin.") and not m.startswith("recovery_plugin.sim")
        }
        assert core <= allowed, (path.name, core)


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    cycles = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return cycles


def test_no_import_cycle() -> None:
    graph = {m: t - LAZY_EXPORTERS for m, t in GRAPH.items() if m not in LAZY_EXPORTERS}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a -> b -> c -> a"]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_layering_test_sees_the_whole_package() -> None:
    assert "recovery_plugin.run.verification" in GRAPH
    assert "recovery_plugin.pytest_plugin.session" in GRAPH["recovery_plugin.run.verification"]
    assert len(GRAPH) >= 40


def test_nothing_below_the_cli_imports_it() -> None:
    for module, imported in GRAPH.items():
        if module not in ("recovery_plugin.cli", "recovery_plugin.__main__"):
            assert "recovery_plugin.cli" not in imported, module


HEAVY = ("click", "pytest", "httpx", "tenacity", "jsonpath", "jsonschema")


def _loaded_after(statement: str, watched: tuple[str, ...] = HEAVY) -> list[str]:
    """Which of ``watched`` a fresh interpreter has imported after running ``statement``."""
    probe = f"import sys\n{statement}\nprint(sorted(m for m in {watched!r} if m in sys.modules))"
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


def test_the_runbook_names_load_on_first_use() -> None:
    from recovery_plugin import config

    for name in config.__all__:
        value = getattr(config, name)
        home = importlib.import_module(config._HOME[name])
        assert value is getattr(home, name), name
    assert sorted(config.__all__) == sorted(config._HOME)
    assert set(config.__all__) <= set(dir(config))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        config.nope  # noqa: B018
    # The option table alone (what --help reads) does not load the schema and its validation.
    options = "recovery_plugin.config.options"
    watched = (options, "recovery_plugin.config.schema", "recovery_plugin.validate")
    assert _loaded_after(f"import {options}", watched) == [options]


def test_help_and_a_dry_run_with_expectations_stay_light(tmp_path: Path) -> None:
    config = tmp_path / "recovery.toml"
    config.write_text(
        f'output_dir = "{tmp_path / "out"}"\n'
        '[[endpoints]]\nname = "m"\npath = "/m/{matchup_id}"\n'
        "poll = { deadline = 5 }\n"
        'expect_changed = ["$.updated_at"]\n'
        '[[endpoints.assert]]\npath = "$.has_data"\nop = "=="\nvalue = true\n',
        encoding="utf-8",
    )
    for argv in (
        ["--help"],
        ["run", "--mode", "dry-run", "--config", str(config), "--matchup-id", "m1"],
    ):
        statement = (
            "import contextlib, io\nfrom recovery_plugin.cli import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            "    try:\n"
            f"        cli.main({argv!r}, standalone_mode=False)\n"
            "    except SystemExit:\n"
            "        pass"
        )
        assert _loaded_after(statement) == ["click"], argv


def test_the_package_takes_dataclass_from_records() -> None:
    # records.dataclass is the standard library's, defined at a third of the cost at start-up.
    direct = set()
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "dataclasses"
                and any(alias.name == "dataclass" for alias in node.names)
            ):
                direct.add(module)
    assert direct == {"recovery_plugin.records"}
