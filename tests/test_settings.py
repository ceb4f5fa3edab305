"""Option precedence: CLI flag > environment > config file > default; errors name the source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recovery_plugin.config import default_runbook, load_runbook
from recovery_plugin.config.settings import (
    OPTIONS,
    parse_api_base,
    resolve_option,
    resolve_settings,
)
from recovery_plugin.errors import ConfigError

# name, flag value, env var, env value, TOML line, parsed flag/env/file values, default
CASES: list[tuple[str, Any, str, str, str, Any, Any, Any, Any]] = [
    (
        "api_base",
        "http://flag:1/",
        "API_BASE_URL",
        "http://env:2",
        'api_base = "http://file:3"',
        "http://flag:1",
        "http://env:2",
        "http://file:3",
        "http://127.0.0.1:8100",
    ),
    (
        "output_dir",
        "flag-out",
        "RECOVERY_OUTPUT_DIR",
        "env-out",
        'output_dir = "file-out"',
        Path("flag-out"),
        Path("env-out"),
        Path("file-out"),
        Path("ops_recovery_bundle"),
    ),
    (
        "input",
        "flag.json",
        "RECOVERY_INPUT",
        "env.json",
        'input = "file.json"',
        "flag.json",
        "env.json",
        "file.json",
        "data/sample_ingest.json",
    ),
    ("jobs", 7, "RECOVERY_JOBS", "5", "jobs = 3", 7, 5, 3, 4),
    ("lang", "ko", "RECOVERY_LANG", "en", 'lang = "ko"', "ko", "en", "ko", "en"),
    (
        "capture_timeout",
        "1.5",
        "RECOVERY_CAPTURE_TIMEOUT",
        "2.5",
        "[capture]\ntimeout = 3.5",
        1.5,
        2.5,
        3.5,
        10.0,
    ),
    (
        "checks_dir",
        "flag-checks",
        "RECOVERY_CHECKS_DIR",
        "env-checks",
        'checks_dir = "file-checks"',
        Path("flag-checks"),
        Path("env-checks"),
        Path("file-checks"),
        None,
    ),
]
IDS = [case[0] for case in CASES]


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recovery.toml"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_every_option_is_covered() -> None:
    assert {o.name for o in OPTIONS} == set(IDS)
    assert {o.name: o.env for o in OPTIONS} == {case[0]: case[2] for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_flag_beats_env_file_and_default(tmp_path: Path, case: tuple[Any, ...]) -> None:
    name, flag, env, env_value, toml, from_flag, _, _, _ = case
    runbook = load_runbook(_config(tmp_path, toml))

    settings = resolve_settings(runbook, flags={name: flag}, environ={env: env_value})

    assert getattr(settings, name) == from_flag
    assert settings.sources[name] == next(o.flag for o in OPTIONS if o.name == name)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_env_beats_file_and_default(tmp_path: Path, case: tuple[Any, ...]) -> None:
    name, _, env, env_value, toml, _, from_env, _, _ = case
    runbook = load_runbook(_config(tmp_path, toml))

    settings = resolve_settings(runbook, flags={name: None}, environ={env: env_value})

    assert getattr(settings, name) == from_env
    assert settings.sources[name] == f"env {env}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_file_beats_default(tmp_path: Path, case: tuple[Any, ...]) -> None:
    name, _, env, _, toml, _, _, from_file, _ = case
    path = _config(tmp_path, toml)

    settings = resolve_settings(load_runbook(path), flags={}, environ={env: ""})

    assert getattr(settings, name) == from_file
    assert settings.sources[name].startswith(f"{path}: ")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_default_applies_when_nothing_is_given(case: tuple[Any, ...]) -> None:
    name, _, _, _, _, _, _, _, default = case

    settings = resolve_settings(default_runbook(), flags={}, environ={})

    assert getattr(settings, name) == default
    assert settings.sources[name] == "default"


def test_a_config_file_that_does_not_set_an_option_leaves_its_source_as_default(
    tmp_path: Path,
) -> None:
    path = _config(tmp_path, 'api_base = "http://file:3"')

    settings = resolve_settings(load_runbook(path), flags={}, environ={})

    assert settings.sources["api_base"] == f"{path}: api_base"
    assert settings.jobs == 4
    assert settings.sources["jobs"] == "default"
    assert settings.sources["output_dir"] == "default"


def test_ini_values_rank_below_env_and_above_the_file(tmp_path: Path) -> None:
    runbook = load_runbook(_config(tmp_path, "jobs = 3"))
    ini = {"jobs": ("recovery_jobs", "6")}

    from_ini = resolve_settings(runbook, flags={}, environ={}, ini=ini)
    from_env = resolve_settings(runbook, flags={}, environ={"RECOVERY_JOBS": "5"}, ini=ini)

    assert (from_ini.jobs, from_ini.sources["jobs"]) == (6, "ini recovery_jobs")
    assert (from_env.jobs, from_env.sources["jobs"]) == (5, "env RECOVERY_JOBS")


def test_unrelated_environment_variables_are_ignored() -> None:
    settings = resolve_settings(
        default_runbook(), flags={}, environ={"JOBS": "9", "recovery_jobs": "9"}
    )

    assert settings.jobs == 4


# --- bad values name their source ----------------------------------------------------------


def _config_error(**kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        resolve_settings(**kwargs)
    return info.value.message


@pytest.mark.parametrize(
    ("name", "flag", "value", "problem"),
    [
        ("jobs", "--jobs", "many", "must be a whole number"),
        ("jobs", "--jobs", "0", "must be at least 1"),
        ("jobs", "--jobs", True, "must be a whole number"),
        ("lang", "--lang", "fr", "must be 'en' or 'ko'"),
        ("capture_timeout", "--capture-timeout", "0", "must be greater than 0"),
        ("capture_timeout", "--capture-timeout", "soon", "must be a number of seconds"),
        ("capture_timeout", "--capture-timeout", "nan", "must be greater than 0"),
        ("api_base", "--api-base", "ftp://host", "http:// or https://"),
        ("output_dir", "--output-dir", "  ", "must not be empty"),
        ("input", "--input", "", "must not be empty"),
    ],
)
def test_a_bad_flag_value_names_the_flag(name: str, flag: str, value: Any, problem: str) -> None:
    message = _config_error(
        runbook=default_runbook(), flags={name: value}, environ={"RECOVERY_JOBS": "2"}
    )

    assert message.startswith(f"invalid {name} {value!r} from {flag}: ")
    assert problem in message


@pytest.mark.parametrize(
    ("env", "value", "problem"),
    [
        ("RECOVERY_JOBS", "0", "must be at least 1"),
        ("RECOVERY_JOBS", "2.5", "must be a whole number"),
        ("RECOVERY_LANG", "de", "must be 'en' or 'ko'"),
        ("RECOVERY_CAPTURE_TIMEOUT", "-1", "must be greater than 0"),
        ("API_BASE_URL", "127.0.0.1:8100", "http:// or https://"),
        ("RECOVERY_OUTPUT_DIR", "   ", "must not be empty"),
    ],
)
def test_a_bad_env_value_names_the_variable(env: str, value: str, problem: str) -> None:
    message = _config_error(runbook=default_runbook(), flags={}, environ={env: value})

    assert f"{value!r} from env {env}: " in message
    assert problem in message


def test_a_good_flag_hides_a_bad_env_value() -> None:
    settings = resolve_settings(
        default_runbook(), flags={"jobs": "2"}, environ={"RECOVERY_JOBS": "zero"}
    )

    assert settings.jobs == 2


def test_a_bad_flag_is_not_silently_replaced_by_a_good_env_value() -> None:
    with pytest.raises(ConfigError, match="from --jobs"):
        resolve_settings(default_runbook(), flags={"jobs": "-3"}, environ={"RECOVERY_JOBS": "2"})


@pytest.mark.parametrize(
    ("toml", "key", "problem"),
    [
        ("jobs = 0", "jobs", "must be at least 1"),
        ('lang = "jp"', "lang", "must be 'en' or 'ko'"),
        ("[capture]\ntimeout = -2", "capture.timeout", "greater than 0"),
    ],
)
def test_a_bad_file_value_names_the_file_and_key(
    tmp_path: Path, toml: str, key: str, problem: str
) -> None:
    path = _config(tmp_path, toml)

    with pytest.raises(ConfigError) as info:
        resolve_settings(load_runbook(path), flags={}, environ={})

    assert f"recovery.toml: {key}" in info.value.message
    assert str(path) in info.value.message
    assert problem in info.value.message


@pytest.mark.parametrize(
    "value", ["ftp://host", "http://", "http://host:port", "http://host/?x=1", "file:///tmp"]
)
def test_a_bad_api_base_in_the_file_names_the_file_and_key(tmp_path: Path, value: str) -> None:
    path = _config(tmp_path, f'api_base = "{value}"')

    message = _config_error(runbook=load_runbook(path), flags={}, environ={})

    assert message.startswith(f"invalid api_base {value!r} from {path}: api_base: ")


def test_a_bad_api_base_in_pyproject_names_the_tool_table(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.recovery_bundle]\napi_base = "ftp://x"\n', encoding="utf-8")

    message = _config_error(runbook=load_runbook(path), flags={}, environ={})

    assert f"from {path} [tool.recovery_bundle]: api_base: " in message


# --- api_base ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ftp://127.0.0.1:8100", "must be an http:// or https:// URL"),
        ("127.0.0.1:8100", "must be an http:// or https:// URL"),
        ("localhost", "must be an http:// or https:// URL"),
        ("", "must be an http:// or https:// URL"),
        ("http://", "has no host"),
        ("http://:8100", "has no host"),
        ("https:///api", "has no host"),
        ("http://127.0.0.1:99999", "has a malformed port"),
        ("http://127.0.0.1:80a", "has a malformed port"),
        ("http://127.0.0.1:8100?debug=1", "must not have a query or fragment"),
        ("http://127.0.0.1:8100/api?x", "must not have a query or fragment"),
        ("http://127.0.0.1:8100/#top", "must not have a query or fragment"),
    ],
)
def test_parse_api_base_rejects(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_api_base(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8100", "http://127.0.0.1:8100"),
        ("http://127.0.0.1:8100/", "http://127.0.0.1:8100"),
        ("  https://polls.example.org/  ", "https://polls.example.org"),
        ("https://polls.example.org/prefix/", "https://polls.example.org/prefix"),
        ("http://[::1]:8100", "http://[::1]:8100"),
    ],
)
def test_parse_api_base_accepts_and_normalises(value: str, expected: str) -> None:
    assert parse_api_base(value) == expected


def test_settings_carry_paths_as_paths(tmp_path: Path) -> None:
    settings = resolve_settings(
        default_runbook(),
        flags={"output_dir": str(tmp_path / "out"), "checks_dir": str(tmp_path / "checks")},
        environ={},
    )

    assert settings.output_dir == tmp_path / "out"
    assert settings.checks_dir == tmp_path / "checks"


# --- the plugin's flags ----------------------------------------------------------------------


def test_plugin_flags_are_named_by_their_plugin_spelling() -> None:
    settings = resolve_settings(
        default_runbook(),
        flags={"api_base": "http://127.0.0.1:1", "capture_timeout": "3"},
        environ={},
        plugin=True,
    )

    assert settings.sources["api_base"] == "--recovery-base-url"
    assert settings.sources["capture_timeout"] == "--recovery-capture-timeout"


def test_a_bad_plugin_flag_names_the_plugin_flag() -> None:
    message = _config_error(
        runbook=default_runbook(), flags={"capture_timeout": "abc"}, environ={}, plugin=True
    )

    assert message == (
        "invalid capture_timeout 'abc' from --recovery-capture-timeout: must be a number of seconds"
    )


def test_a_bad_ini_value_names_the_ini_key() -> None:
    message = _config_error(
        runbook=default_runbook(),
        flags={},
        environ={},
        ini={"capture_timeout": ("recovery_capture_timeout", "-1")},
    )

    assert message == (
        "invalid capture_timeout '-1' from ini recovery_capture_timeout: must be greater than 0"
    )


def test_resolve_option_resolves_one_option_without_the_others() -> None:
    value, source = resolve_option(
        "output_dir", default_runbook(), flag=None, environ={"RECOVERY_JOBS": "not checked"}
    )

    assert (value, source) == ("ops_recovery_bundle", "default")


def test_resolve_option_rejects_an_unknown_name() -> None:
    with pytest.raises(KeyError, match="no option 'job'"):
        resolve_option("job", default_runbook(), flag=None, environ={})
