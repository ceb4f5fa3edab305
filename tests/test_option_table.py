"""The option table is what users see: launcher help, pytest help and errors come from its rows."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import recovery_plugin.config
from recovery_plugin.cli import cli
from recovery_plugin.config import Runbook, default_runbook
from recovery_plugin.config.options import OPTIONS, Option, format_default, plugin_flags
from recovery_plugin.errors import ConfigError
from recovery_plugin.pytest_plugin.fixtures import LAUNCHER_ENV
from recovery_plugin.pytest_plugin.options import PLUGIN_FLAGS, resolve_plugin_settings

# The settings each command takes (run and verify share all but the step inputs).
COMMAND_SETTINGS = {
    "run": {o.name for o in OPTIONS},
    "verify": {o.name for o in OPTIONS} - {"input", "jobs"},
    "history": {"output_dir"},
}
ROWS = [
    (command, o) for command, names in COMMAND_SETTINGS.items() for o in OPTIONS if o.name in names
]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _sources_in_help(help_text: str, flag: str) -> dict[str, str]:
    """The ``[env X; config Y; default Z]`` suffix of ``flag``'s help, as a dict."""
    match = re.search(re.escape(flag) + r" .*?\[(env [^\]]*)\]", _flat(help_text))
    assert match, f"{flag} has no [env ...] suffix in:\n{help_text}"
    return dict(part.split(" ", 1) for part in match.group(1).split("; "))


def _help(cli_runner: CliRunner, command: str) -> str:
    result = cli_runner.invoke(cli, [command, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(("command", "option"), ROWS, ids=[f"{c}-{o.name}" for c, o in ROWS])
def test_every_setting_is_in_the_help_with_its_env_var_key_and_profile_default(
    cli_runner: CliRunner, command: str, option: Option
) -> None:
    sources = _sources_in_help(_help(cli_runner, command), option.flag)

    assert sources["env"] == option.env
    assert sources["config"] == option.file_key
    assert sources.get("default") == format_default(option.from_runbook(default_runbook()))


def test_help_defaults_are_the_real_profile_values(cli_runner: CliRunner) -> None:
    defaults = {
        o.flag: _sources_in_help(_help(cli_runner, "run"), o.flag).get("default") for o in OPTIONS
    }

    assert defaults == {
        "--api-base": "http://127.0.0.1:8100",
        "--output-dir": "ops_recovery_bundle",
        "--input": "data/sample_ingest.json",
        "--jobs": "4",
        "--lang": "en",
        "--capture-timeout": "10",
        "--checks-dir": None,
    }


def test_the_step_inputs_are_not_verify_options(cli_runner: CliRunner) -> None:
    verify_help = _help(cli_runner, "verify")

    assert "--jobs" not in verify_help
    assert "--input" not in verify_help


def _changed_profile() -> Runbook:
    profile = default_runbook()
    return replace(
        profile,
        api_base="http://127.0.0.1:9999",
        jobs=9,
        checks_dir="team-checks",
        capture=replace(profile.capture, timeout=2.5),
    )


def test_help_follows_the_profile_when_its_defaults_change(
    cli_runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery_plugin.config, "default_runbook", _changed_profile)
    run_help = _help(cli_runner, "run")

    assert _sources_in_help(run_help, "--api-base")["default"] == "http://127.0.0.1:9999"
    assert _sources_in_help(run_help, "--jobs")["default"] == "9"
    assert _sources_in_help(run_help, "--capture-timeout")["default"] == "2.5"
    assert _sources_in_help(run_help, "--checks-dir")["default"] == "team-checks"
    assert "default 4]" not in _flat(run_help)


def test_the_config_option_names_its_env_var_and_discovery(cli_runner: CliRunner) -> None:
    for command in ("run", "verify"):
        text = _flat(_help(cli_runner, command))
        assert "--config FILE Runbook TOML. [env RECOVERY_CONFIG; default ./recovery.toml" in text


# --- the pytest plugin -----------------------------------------------------------------------


@pytest.fixture
def hermetic(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LAUNCHER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PYTEST_PLUGINS", "recovery_plugin.plugin,pytest_jsonreport.plugin")


def test_the_plugin_flags_keep_their_names() -> None:
    flags = {row.flag: row.ini for row in plugin_flags()}

    assert flags == {
        "--recovery-base-url": "recovery_base_url",
        "--recovery-matchup-id": "recovery_matchup_ids",
        "--recovery-config": "recovery_config",
        "--recovery-output-dir": "recovery_output_dir",
        "--recovery-baseline": "recovery_baseline",
        "--recovery-capture-timeout": "recovery_capture_timeout",
    }
    assert PLUGIN_FLAGS == {
        "api_base": "--recovery-base-url",
        "capture_timeout": "--recovery-capture-timeout",
    }


def test_every_plugin_row_is_in_pytest_help_with_its_ini_twin(
    pytester: pytest.Pytester, hermetic: None
) -> None:
    help_text = pytester.runpytest("--help").stdout.str()

    for row in plugin_flags():
        assert f"{row.flag}={row.metavar}" in help_text
        ini_type = "linelist" if row.repeatable else "string"
        assert re.search(rf"^  {row.ini} \({ini_type}\):", help_text, re.MULTILINE), row.ini
    timeout = _sources_in_help(help_text, "--recovery-capture-timeout=SECONDS")
    assert timeout == {
        "env": "RECOVERY_CAPTURE_TIMEOUT",
        "ini": "recovery_capture_timeout",
        "runbook": "capture.timeout",
        "default": "10",
    }
    assert "env API_BASE_URL overrides the ini value but does not enable" in _flat(help_text)


def test_pytest_help_follows_the_profile(
    pytester: pytest.Pytester, hermetic: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery_plugin.config, "default_runbook", _changed_profile)

    help_text = pytester.runpytest("--help").stdout.str()

    assert _sources_in_help(help_text, "--recovery-capture-timeout=SECONDS")["default"] == "2.5"


# --- a bad value from each source names that source -------------------------------------------

BAD_VALUES = {
    "api_base": ("ftp://x", "must be an http:// or https:// URL"),
    "output_dir": ("  ", "must not be empty"),
    "input": ("  ", "must not be empty"),
    "jobs": ("0", "must be at least 1"),
    "lang": ("fr", "must be 'en' or 'ko'"),
    "capture_timeout": ("soon", "must be a number of seconds"),
    "checks_dir": ("  ", "must not be empty"),
}
FLAG_CHECKED_BY_TABLE = [o for o in OPTIONS if not o.choices]


def _one_line_error(output: str, exit_code: int) -> str:
    assert exit_code == 2, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_every_option_has_a_bad_value_case() -> None:
    assert set(BAD_VALUES) == {o.name for o in OPTIONS}


@pytest.mark.parametrize("option", FLAG_CHECKED_BY_TABLE, ids=lambda o: o.name)
def test_a_bad_flag_value_is_a_one_line_error_naming_the_flag(
    cli_runner: CliRunner, tmp_path: Path, option: Option
) -> None:
    value, problem = BAD_VALUES[option.name]
    args = ["run", "--output-dir", str(tmp_path), option.flag, value]

    result = cli_runner.invoke(cli, args)

    line = _one_line_error(result.output, result.exit_code)
    assert f"invalid {option.name} {value!r} from {option.flag}: {problem}" in line
    assert not list(tmp_path.iterdir())


def test_a_bad_choice_flag_is_rejected_by_click_naming_the_flag(cli_runner: CliRunner) -> None:
    result = cli_runner.invoke(cli, ["run", "--lang", "fr"])

    assert result.exit_code == 2
    assert "Invalid value for '--lang'" in result.output


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_a_bad_env_value_is_a_one_line_error_naming_the_variable(
    cli_runner: CliRunner, tmp_path: Path, option: Option
) -> None:
    value, problem = BAD_VALUES[option.name]
    args = ["run"] if option.name == "output_dir" else ["run", "--output-dir", str(tmp_path)]

    result = cli_runner.invoke(cli, args, env={option.env: value})

    line = _one_line_error(result.output, result.exit_code)
    assert f"invalid {option.name} {value!r} from env {option.env}: {problem}" in line


@pytest.mark.parametrize("key", ["api_base", "output_dir", "input", "checks_dir"])
def test_a_bad_file_value_is_a_one_line_error_naming_the_file_and_key(
    cli_runner: CliRunner, tmp_path: Path, key: str
) -> None:
    value, problem = BAD_VALUES[key]
    config = tmp_path / "recovery.toml"
    config.write_text(f'{key} = "{value}"\n', encoding="utf-8")
    args = ["run", "--config", str(config)]
    if key != "output_dir":
        args += ["--output-dir", str(tmp_path / "runs")]

    result = cli_runner.invoke(cli, args)

    line = _one_line_error(result.output, result.exit_code)
    assert f"{config}: {key}: " in line  # the loader or resolve_settings: both name file and key
    assert problem in line


def test_history_resolves_its_output_dir_through_the_table(
    cli_runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    bad_env = cli_runner.invoke(cli, ["history"], env={"RECOVERY_OUTPUT_DIR": " "})
    line = _one_line_error(bad_env.output, bad_env.exit_code)
    assert "from env RECOVERY_OUTPUT_DIR: must not be empty" in line

    (tmp_path / "recovery.toml").write_text('output_dir = "from-file"\n', encoding="utf-8")
    missing = cli_runner.invoke(cli, ["history"])
    assert "output directory not found: from-file" in missing.output

    (tmp_path / "from-env").mkdir()
    listed = cli_runner.invoke(cli, ["history"], env={"RECOVERY_OUTPUT_DIR": "from-env"})
    assert listed.exit_code == 0, listed.output


def _plugin_error(config: pytest.Config) -> str:
    with pytest.raises(ConfigError) as info:
        resolve_plugin_settings(config, default_runbook())
    return info.value.message


def test_plugin_errors_name_the_plugin_flag_env_var_and_ini_key(
    pytester: pytest.Pytester, hermetic: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_flag = pytester.parseconfig("--recovery-capture-timeout", "soon")
    assert "'soon' from --recovery-capture-timeout: must be a number" in _plugin_error(by_flag)

    pytester.makeini("[pytest]\nrecovery_capture_timeout = -1\nrecovery_base_url = localhost\n")
    by_ini = pytester.parseconfig()
    assert "invalid api_base 'localhost' from ini recovery_base_url" in _plugin_error(by_ini)

    monkeypatch.setenv("API_BASE_URL", "http://127.0.0.1:1")
    assert "'-1' from ini recovery_capture_timeout: must be greater than 0" in _plugin_error(
        pytester.parseconfig()
    )

    monkeypatch.setenv("RECOVERY_CAPTURE_TIMEOUT", "0")
    assert "'0' from env RECOVERY_CAPTURE_TIMEOUT" in _plugin_error(pytester.parseconfig())


def test_plugin_settings_rank_flag_env_ini_file(
    pytester: pytest.Pytester, hermetic: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(
        "[pytest]\nrecovery_base_url = http://127.0.0.1:3\nrecovery_capture_timeout = 3\n"
    )

    from_ini = resolve_plugin_settings(pytester.parseconfig(), default_runbook())
    monkeypatch.setenv("RECOVERY_CAPTURE_TIMEOUT", "2")
    from_env = resolve_plugin_settings(pytester.parseconfig(), default_runbook())
    flag_args = ("--recovery-capture-timeout", "1", "--recovery-base-url", "http://127.0.0.1:1")
    from_flag = resolve_plugin_settings(pytester.parseconfig(*flag_args), default_runbook())

    assert (from_ini.capture_timeout, from_ini.sources["capture_timeout"]) == (
        3.0,
        "ini recovery_capture_timeout",
    )
    assert (from_env.capture_timeout, from_env.sources["capture_timeout"]) == (
        2.0,
        "env RECOVERY_CAPTURE_TIMEOUT",
    )
    assert (from_flag.api_base, from_flag.sources["api_base"]) == (
        "http://127.0.0.1:1",
        "--recovery-base-url",
    )
    assert from_flag.capture_timeout == 1.0


def test_the_configuration_page_lists_every_option_as_the_table_has_it() -> None:
    page = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = {}
    for line in page[page.index("## Precedence") : page.index("## Keys")].splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
        if len(cells) == 5 and cells[1].startswith("--") and cells[1] != "---":
            rows[cells[1]] = (cells[2], cells[3], cells[4])

    assert rows == {
        o.flag: (o.env, o.file_key, format_default(o.from_runbook(default_runbook())) or "none")
        for o in OPTIONS
    }
