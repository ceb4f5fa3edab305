"""A JSON Schema file that cannot be used is a configuration error (exit 2) before anything
runs, not a failing check after the steps have run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from recovery_plugin.pytest_plugin.fixtures import RecoverySim, RunBundle
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID

WHERE = re.compile(r"recovery\.toml: endpoints\[\d+\]\.expect_schema: ")


def _config(tmp_path: Path, schema: Path) -> Path:
    config = tmp_path / "recovery.toml"
    config.write_text(
        '[[endpoints]]\nname = "summary"\npath = "/api/v1/dashboard/summary"\n'
        f'expect_schema = "{schema}"\n',
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, "cannot read JSON Schema"),
        ({"summary.json": "{not json"}, "is not valid JSON"),
        ({"summary.json": json.dumps({"type": 12})}, "is not a valid JSON Schema"),
        (
            {"summary.json": json.dumps({"properties": {"a": {"$ref": "missing.json"}}})},
            r"cannot read 'missing\.json' \(a \$ref of .*summary\.json\): No such file",
        ),
        (
            {
                "summary.json": json.dumps({"$ref": "part.json#/$defs/x"}),
                "part.json": "[broken",
            },
            r"'part\.json#/\$defs/x' \(a \$ref of .*\) is not valid JSON",
        ),
    ],
    ids=["missing", "not-json", "not-a-schema", "ref-missing", "ref-not-json"],
)
def test_verify_refuses_an_unusable_schema_file_before_any_request(
    recovery_sim: RecoverySim,
    run_bundle: RunBundle,
    tmp_path: Path,
    files: dict[str, str],
    expected: str,
) -> None:
    sim = recovery_sim()
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    config = _config(tmp_path, tmp_path / "summary.json")

    result = run_bundle(
        "verify",
        "--config",
        str(config),
        "--api-base",
        sim.base_url,
        "--matchup-id",
        DEFAULT_MATCHUP_ID,
    )

    assert result.exit_code == 2, result.output
    (line,) = [ln for ln in result.output.splitlines() if ln.strip()]
    assert WHERE.search(line), line
    assert re.search(expected, line), line
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.json"))


def test_a_dry_run_names_a_missing_schema_file(run_bundle: RunBundle, tmp_path: Path) -> None:
    config = _config(tmp_path, tmp_path / "nowhere.json")

    result = run_bundle("run", "--mode", "dry-run", "--config", str(config))

    assert result.exit_code == 2, result.output
    assert WHERE.search(result.output)
    assert f"no such JSON Schema file: {tmp_path / 'nowhere.json'}" in result.output


def test_a_usable_schema_file_with_a_sibling_ref_passes(
    recovery_sim: RecoverySim, run_bundle: RunBundle, tmp_path: Path
) -> None:
    sim = recovery_sim()
    sim.seed()
    (tmp_path / "part.json").write_text(json.dumps({"type": "object"}), encoding="utf-8")
    (tmp_path / "summary.json").write_text(json.dumps({"$ref": "part.json"}), encoding="utf-8")
    config = _config(tmp_path, tmp_path / "summary.json")

    result = run_bundle(
        "verify",
        "--config",
        str(config),
        "--api-base",
        sim.base_url,
        "--matchup-id",
        DEFAULT_MATCHUP_ID,
    )

    assert result.exit_code == 0, result.output
