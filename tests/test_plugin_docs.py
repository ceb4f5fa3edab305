"""The plugin's docs are tested: docs/qa-scenarios.md, docs/plugin.md and docs/ci.md.

- qa-scenarios.md: every ```python block IS a scenario file of tests/scenarios (or its test
  function), character for character, and every scenario is on the page.
- plugin.md: the options table matches the options pytest actually has, and the example
  ``conftest.py`` and check file run, with the effects the page describes.
- ci.md: the workflows parse; every ``recovery-bundle`` / ``python -m pytest`` command in them is
  accepted by the CLI and run against a simulated service with the job's environment, after which
  the paths the job uploads exist.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT
from recovery_plugin.cli import cli
from recovery_plugin.pytest_plugin.fixtures import LAUNCHER_ENV, RecoverySim
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID

try:
    import yaml
except ImportError:  # PyYAML is not a dependency: then the text checks alone guard the YAML
    yaml = None

DOCS = ROOT / "docs"
SCENARIOS = ROOT / "tests" / "scenarios"
_FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def fenced(path: Path, language: str) -> list[tuple[str, str]]:
    """The ``(info, code)`` of every fenced block in ``language`` (info: what follows it)."""
    text = path.read_text(encoding="utf-8")
    return [(info.strip(), code) for lang, info, code in _FENCE.findall(text) if lang == language]


def file_blocks(path: Path) -> list[tuple[str, str]]:
    """The ``python file=<path>`` blocks: ``(path, code)``; every python block must name one."""
    blocks = []
    for info, code in fenced(path, "python"):
        match = re.fullmatch(r"file=(\S+)", info)
        assert match, f"{path.name}: a ```python block without file=<path>: {info!r}"
        blocks.append((match.group(1), code.rstrip("\n")))
    return blocks


# --- qa-scenarios.md -----------------------------------------------------------------------


def _functions(source: str) -> dict[str, str]:
    tree = ast.parse(source)
    return {
        node.name: ast.get_source_segment(source, node) or ""
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }


def test_the_qa_page_shows_the_scenario_files_verbatim() -> None:
    blocks = file_blocks(DOCS / "qa-scenarios.md")
    assert len(blocks) >= 6
    shown: set[str] = set()
    for name, code in blocks:
        assert name.startswith("tests/scenarios/"), name
        source = (ROOT / name).read_text(encoding="utf-8")
        functions = _functions(source)
        if code == source.rstrip("\n"):
            shown.update(functions)
        else:
            matching = [fn for fn, text in functions.items() if text == code]
            assert matching, f"docs/qa-scenarios.md: the block for {name} differs from the file"
            shown.update(matching)
    scenarios = {
        fn
        for path in sorted(SCENARIOS.glob("test_*.py"))
        for fn in _functions(path.read_text(encoding="utf-8"))
        if fn.startswith("test_")
    }
    assert len(scenarios) >= 6
    assert scenarios <= shown, f"scenarios not on the page: {sorted(scenarios - shown)}"


def test_scenarios_use_only_the_two_fixtures() -> None:
    for path in sorted(SCENARIOS.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                assert [a.arg for a in node.args.args] == ["recovery_sim", "run_bundle"], path.name


# --- plugin.md -----------------------------------------------------------------------------


@pytest.fixture
def hermetic(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LAUNCHER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PYTEST_PLUGINS", "recovery_plugin.plugin,pytest_jsonreport.plugin")


def test_the_plugin_page_documents_every_option_and_ini_key(
    pytester: pytest.Pytester, hermetic: None
) -> None:
    help_text = pytester.runpytest("--help").stdout.str()
    flags = set(re.findall(r"--recovery-[a-z-]+", help_text))
    ini_keys = set(re.findall(r"^  (recovery_[a-z_]+)", help_text, re.MULTILINE))
    assert len(flags) == len(ini_keys) == 6
    page = (DOCS / "plugin.md").read_text(encoding="utf-8")
    table = page[page.index("## Options") : page.index("## The generated checks")]
    rows = [line for line in table.splitlines() if line.startswith("| `--recovery-")]
    assert len(rows) == len(flags)
    for row in rows:
        flag = re.match(r"\| `(--recovery-[a-z-]+)", row)
        ini = re.search(r"\| `(recovery_[a-z_]+)`", row)
        assert flag and flag.group(1) in flags, row
        assert ini and ini.group(1) in ini_keys, row
        flags.discard(flag.group(1))
        ini_keys.discard(ini.group(1))
    assert not flags and not ini_keys


def _write_blocks(root: Path, blocks: list[tuple[str, str]]) -> None:
    for name, code in blocks:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code + "\n", encoding="utf-8")


def _only_report(root: Path) -> dict[str, Any]:
    (report,) = list(root.glob("*/recovery_bundle_report.json"))
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return data


def test_the_plugin_page_examples_run(
    recovery_sim: RecoverySim, pytester: pytest.Pytester, hermetic: None
) -> None:
    blocks = file_blocks(DOCS / "plugin.md")
    assert sorted(name for name, _ in blocks) == ["conftest.py", "ops/checks/test_team_checks.py"]
    _write_blocks(pytester.path, blocks)
    pytester.makeini("[pytest]\n")  # the repository's root: its conftest.py applies

    healthy = recovery_sim()
    healthy.seed()
    args = ["ops/checks", "--recovery-matchup-id", DEFAULT_MATCHUP_ID, "-v"]
    ok = pytester.runpytest(
        *args, "--recovery-base-url", healthy.base_url, "--recovery-output-dir=ok"
    )
    ok.assert_outcomes(passed=6)  # 3 generated, 1 added by the hook, 2 of the team's
    ok.stdout.fnmatch_lines(["*recovery::summary-source PASSED*"])
    report = _only_report(pytester.path / "ok")
    assert report["x_ticket"] == "OPS-1234"
    assert not any(line.startswith("escalate:") for line in report["ops_checklist"])

    # A matchup page without the keys the conftest now expects: the replaced check fails.
    thin = recovery_sim(
        faults={"endpoints": {"matchup": {"body": {"matchup_id": DEFAULT_MATCHUP_ID}}}}
    )
    thin.seed()
    bad = pytester.runpytest(
        *args, "--recovery-base-url", thin.base_url, "--recovery-output-dir=bad"
    )
    bad.assert_outcomes(passed=5, failed=1)
    bad.stdout.fnmatch_lines(["*body is missing keys: title, pollster*"])
    report = _only_report(pytester.path / "bad")
    assert "escalate: page #ops-oncall with the report path" in report["ops_checklist"]


# --- ci.md ---------------------------------------------------------------------------------

_COMMAND_STARTS = ("recovery-bundle ", "python -m pytest ")


def _commands(script: str) -> list[str]:
    """The gate command lines of a shell script (``\\`` continuations joined)."""
    joined = re.sub(r"\\\n\s*", " ", script)
    return [
        line.strip() for line in joined.splitlines() if line.strip().startswith(_COMMAND_STARTS)
    ]


def _expand(command: str, env: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in env, f"docs/ci.md uses ${name}, which the job does not set"
        return env[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, command)


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def _parse_with_the_cli(argv: list[str]) -> dict[str, Any]:
    """What click makes of the command line (raises click's UsageError if it is not accepted)."""
    with cli.make_context("recovery-bundle", list(argv)) as ctx:
        command = cli.get_command(ctx, argv[0])
        assert command is not None, argv[0]
        with command.make_context(argv[0], list(argv[1:]), parent=ctx) as sub:
            return dict(sub.params)


def _workflows() -> list[str]:
    return [code for _, code in fenced(DOCS / "ci.md", "yaml")]


def test_the_ci_page_workflows_are_well_formed() -> None:
    workflows = _workflows()
    assert len(workflows) == 2
    for text in workflows:
        # Text checks that hold without a YAML parser: ...
        for needle in (
            "jobs:",
            "steps:",
            "if: always()",
            "actions/upload-artifact@v4",
            "API_BASE_URL:",
        ):
            assert needle in text
        assert "\t" not in text
        commands = _commands(text)
        assert len(commands) == 1
        if yaml is None:
            continue
        # ... and the structure, when PyYAML is there to parse it.
        workflow = yaml.safe_load(text)
        assert workflow.get("on", workflow.get(True))  # (YAML 1.1 reads a bare `on` as true)
        job = workflow["jobs"]["verify"]
        assert "API_BASE_URL" in job["env"]
        scripts = [step.get("run", "") for step in job["steps"]]
        assert sum(commands[0] in " ".join(_commands(s)) for s in scripts) == 1
        (upload,) = [
            s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")
        ]
        assert upload["if"] == "always()"
        argv = shlex.split(commands[0])
        output_flag = "--output-dir" if argv[0] == "recovery-bundle" else "--recovery-output-dir"
        uploaded = upload["with"]["path"].split()
        assert _option(argv, output_flag) + "/" in uploaded
        assert _option(argv, "--junit-xml") in uploaded
    assert "needs: deploy" in workflows[0]


@pytest.fixture
def ci_job(recovery_sim: RecoverySim, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A checkout with the team's checks, and the job's environment pointing at a healthy service."""
    sim = recovery_sim()
    sim.seed()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    _write_blocks(
        workspace, [b for b in file_blocks(DOCS / "plugin.md") if b[0].startswith("ops/")]
    )
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_ENV}
    env.update(API_BASE_URL=sim.base_url, GITHUB_STEP_SUMMARY=str(tmp_path / "step-summary.md"))
    return workspace, env


def test_the_ci_page_commands_run_against_a_service(ci_job: tuple[Path, dict[str, str]]) -> None:
    workspace, env = ci_job
    ran = []
    for text in _workflows():
        (command,) = _commands(text)
        argv = shlex.split(_expand(command, env))
        if argv[0] == "recovery-bundle":
            params = _parse_with_the_cli(argv[1:])
            assert params["matchup_ids"] and params["junit_xml"] and params["output_dir"]
            argv = [sys.executable, "-m", "recovery_plugin", *argv[1:]]
        else:
            assert argv[:3] == ["python", "-m", "pytest"]
            argv = [sys.executable, *argv[1:]]
        proc = subprocess.run(
            argv, cwd=workspace, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
        if yaml is not None:
            (upload,) = [
                step
                for step in yaml.safe_load(text)["jobs"]["verify"]["steps"]
                if str(step.get("uses", "")).startswith("actions/upload-artifact")
            ]
            for path in upload["with"]["path"].split():
                assert (workspace / path).exists(), f"{path} would not be uploaded"
        (report_path,) = list((workspace / "recovery-gate").glob("*/recovery_bundle_report.json"))
        report = json.loads(report_path.read_text(encoding="utf-8"))
        assert (report["mode"], report["status"]) == ("verify", "success")
        ran.append(argv[1:3])
        for produced in ("recovery-gate", "junit"):  # the next job starts from a clean checkout
            shutil.rmtree(workspace / produced)
    assert ran == [["-m", "recovery_plugin"], ["-m", "pytest"]]
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    assert summary.count("## recovery-bundle verify: success") == 1  # the launcher's, not pytest's


def test_a_bad_ci_command_would_be_caught() -> None:
    """The CLI check above is not a formality: an unknown or malformed flag is refused."""
    import click

    with pytest.raises(click.NoSuchOption):
        _parse_with_the_cli(["verify", "--junit", "x.xml"])
    with pytest.raises(click.BadParameter):
        _parse_with_the_cli(["verify", "--lang", "fr"])
