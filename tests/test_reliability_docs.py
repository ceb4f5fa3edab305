"""docs/reliability.md and docs/simulation.md cannot drift from the code and the tests they describe."""

from __future__ import annotations

import ast
import re

from conftest import ROOT
from recovery_plugin.errors import ExitCode
from recovery_plugin.sim import faults

RELIABILITY = ROOT / "docs" / "reliability.md"
SIMULATION = ROOT / "docs" / "simulation.md"
FAULT_MODULES = ("tests/test_faults.py", "tests/test_reliability.py")
_NODE_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[([^\]`]+)\])?`")
_BARE_PARAM = re.compile(r"`\[([\w-]+)\]`")


def _test_functions(relative: str) -> set[str]:
    tree = ast.parse((ROOT / relative).read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_every_test_named_in_reliability_md_exists() -> None:
    text = RELIABILITY.read_text(encoding="utf-8")
    named = _NODE_ID.findall(text)
    assert len(named) >= 20
    for path, name, param in named:
        assert (ROOT / path).is_file(), path
        assert name in _test_functions(path), f"{path}::{name} is named in the docs but not defined"
        if param:
            source = (ROOT / path).read_text(encoding="utf-8")
            assert f'"{param}"' in source, f"{path}::{name}[{param}]: no such parameter id"
    reliability_source = (ROOT / "tests" / "test_reliability.py").read_text(encoding="utf-8")
    for param in _BARE_PARAM.findall(text):
        assert f'"{param}"' in reliability_source, f"[{param}]: no such parameter id"


def test_every_fault_test_is_named_in_reliability_md() -> None:
    text = RELIABILITY.read_text(encoding="utf-8")
    for module in FAULT_MODULES:
        for name in sorted(_test_functions(module)):
            assert f"`{module}::{name}" in text, f"{module}::{name} is missing from the table"


def test_every_bad_input_case_is_named_in_reliability_md() -> None:
    text = RELIABILITY.read_text(encoding="utf-8")
    source = (ROOT / "tests" / "test_reliability.py").read_text(encoding="utf-8")
    cases = re.findall(r'^\s+yield "([\w-]+)",', source, re.MULTILINE)
    assert len(cases) >= 10
    for case in cases:
        assert f"[{case}]`" in text, f"bad-input case {case} is missing from the table"


def test_reliability_md_lists_every_exit_code() -> None:
    text = RELIABILITY.read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    codes = {int(m) for m in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}
    assert codes == {int(code) for code in ExitCode}


def _schema_keys() -> dict[str, tuple[str, ...]]:
    """Every key the faults validator accepts, by section (an unknown key is an error there)."""
    return {
        "top level": faults._TOP_KEYS,
        "ingest": faults._INGEST_KEYS,
        "reprocess": faults._REPROCESS_KEYS,
        "endpoints.<target>": faults._ENDPOINT_KEYS,
        "service": faults._SERVICE_KEYS,
        "endpoint targets": faults.ENDPOINT_TARGETS,
    }


def test_simulation_md_documents_every_fault_key() -> None:
    text = SIMULATION.read_text(encoding="utf-8")
    missing = [
        f"{section}: {key}"
        for section, keys in _schema_keys().items()
        for key in keys
        if f"`{key}`" not in text
    ]
    assert not missing, f"fault keys not documented in docs/simulation.md: {missing}"
    for needed in (faults.FAULTS_ENV, "ingest-hang.pids.json", "reprocess-hang.pids.json"):
        assert needed in text
    assert "`matchup:<exact decoded id>`" in text


def test_simulation_md_documents_every_sim_serve_flag() -> None:
    from click.testing import CliRunner

    from recovery_plugin.cli import cli

    text = SIMULATION.read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["sim", "serve", "--help"])
    assert result.exit_code == 0
    flags = set(re.findall(r"(--[a-z][a-z-]+)", result.output)) - {"--help"}
    assert flags, result.output
    assert all(f"`{flag}`" in text for flag in flags), sorted(
        f for f in flags if f"`{f}`" not in text
    )


def test_the_two_docs_link_each_other() -> None:
    assert "(reliability.md)" in SIMULATION.read_text(encoding="utf-8")
    assert "(simulation.md)" in RELIABILITY.read_text(encoding="utf-8")
