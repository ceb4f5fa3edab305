"""The endpoint expectation keys in a runbook: accepted, and a bad value named by its dotted key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from recovery_plugin.cli import cli
from recovery_plugin.config import load_runbook
from recovery_plugin.errors import ConfigError
from recovery_plugin.http.expectations import check_runbook, expectations_of
from recovery_plugin.resolve.context import RunRequest, resolve_run

GOOD = """
openapi = "{api_base}/openapi.json"

[[endpoints]]
name = "matchup"
path = "/api/v1/matchups/{matchup_id}"
expect_changed = ["$.updated_at"]
expect_unchanged = ["$.region_code"]
max_ms = 500
slo = { p95_ms = 300, max_error_rate = 0.01 }
poll = { deadline = 30, interval = 1, halt_on = [{ status = ["4XX"], except = [404] }] }

[[endpoints.assert]]
path = "$.matchup_id"
op = "=="
value = "{matchup_id}"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recovery.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_expectation_key_loads_and_parses(tmp_path: Path) -> None:
    runbook = load_runbook(_write(tmp_path, GOOD))
    check_runbook(runbook, compile_paths=True)
    (spec,) = runbook.endpoints
    found = expectations_of(spec)
    assert [a.label("m1") for a in found.assertions] == ['$.matchup_id == "m1"']
    assert found.effect.changed == ("$.updated_at",)
    assert found.max_ms == 500
    assert found.slo is not None and found.slo.p95_ms == 300
    assert found.poll is not None and found.poll.deadline == 30
    assert spec.openapi == "{api_base}/openapi.json"


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            '[[endpoints.assert]]\npath = "$.x"\nop = "~="\nvalue = 1\n',
            "endpoints[0].assert[0].op: unknown operator '~='",
        ),
        (
            '[[endpoints.assert]]\npath = "$.x"\nop = "=="\n',
            "endpoints[0].assert[0].value: required for operator '=='",
        ),
        ("poll = { interval = 1 }\n", "endpoints[0].poll.deadline: required"),
        ("slo = { p90_ms = 1 }\n", "endpoints[0].slo.p90_ms: unknown key"),
        ('expect_changed = "$.a"\n', "endpoints[0].expect_changed: must be true"),
        ("max_ms = 0\n", "endpoints[0].max_ms: must be greater than 0"),
        ('[[endpoints.assert]]\npath = "$[?"\nop = "exists"\n', "endpoints[0].assert[0].path"),
    ],
)
def test_a_bad_expectation_is_one_line_naming_the_key(
    tmp_path: Path, snippet: str, message: str
) -> None:
    text = f'[[endpoints]]\nname = "m"\npath = "/m"\n{snippet}'
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        resolve_run(RunRequest(mode="verify", config_path=path, cwd=tmp_path, keeps_report=False))
    assert f"{path}: {message}" in caught.value.message
    assert "\n" not in caught.value.message


def test_assertions_is_not_a_file_key(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[endpoints]]\nname = "m"\npath = "/m"\nassertions = []\n')
    with pytest.raises(ConfigError, match=r"endpoints\[0\]\.assertions: unknown key"):
        load_runbook(path)


def test_a_wrong_type_for_assert_names_assert(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[endpoints]]\nname = "m"\npath = "/m"\nassert = 3\n')
    with pytest.raises(ConfigError, match=r"endpoints\[0\]\.assert: must be"):
        load_runbook(path)


def test_openapi_allows_only_the_api_base_placeholder(tmp_path: Path) -> None:
    path = _write(tmp_path, 'openapi = "{matchup_id}/openapi.json"\n')
    with pytest.raises(ConfigError, match=r"openapi: unknown placeholder \{matchup_id\}"):
        load_runbook(path)


def test_verify_with_a_bad_assertion_exits_2_with_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[endpoints]]\nname = "m"\npath = "/m"\npoll = { deadline = -1 }\n')
    result = CliRunner().invoke(cli, ["verify", "--config", str(path)])
    assert result.exit_code == 2
    assert "endpoints[0].poll.deadline: must be greater than 0" in result.output
    assert "Traceback" not in result.output


def test_verify_baseline_must_be_a_run_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["verify", "--baseline", str(tmp_path)])
    assert result.exit_code == 2
    assert f"--baseline: no api_capture.json in {tmp_path}" in result.output


def test_the_configuration_page_example_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    block = page.split("<!-- example: checks -->\n```toml\n", 1)[1].split("```", 1)[0]
    runbook = load_runbook(_write(tmp_path, block))
    with pytest.raises(ConfigError, match=r"expect_schema: cannot read JSON Schema schemas/"):
        check_runbook(runbook, compile_paths=True)  # the schema file it names must exist
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "summary.json").write_text('{"type": "object"}', encoding="utf-8")
    check_runbook(runbook, compile_paths=True)
    matchup, summary = runbook.endpoints
    found = expectations_of(matchup)
    assert len(found.assertions) == 2 and len(found.reprocessed) == 1
    assert found.poll is not None and len(found.poll.halt_on) == 2
    assert summary.expect_schema == "schemas/summary.json"
