"""The runbook: default profile, partial TOML overrides, and errors naming the file and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from recovery_plugin.config import (
    DEFAULT_ENDPOINTS,
    PLACEHOLDERS,
    CaptureSpec,
    EndpointSpec,
    StepSpec,
    default_runbook,
    expand,
    find_config_file,
    load_runbook,
)
from recovery_plugin.errors import ConfigError, ExitCode

ISSUE_EXAMPLE = """\
api_base = "http://127.0.0.1:8100"
required_env = ["DATABASE_URL", "INTERNAL_JOB_TOKEN"]
[steps.ingest]
command = ["{python}", "scripts/qa/run_ingest_with_retry.py", "--api-base", "{api_base}", "--report", "{step_report}"]
timeout = 600      # seconds
retries = 2        # extra attempts after the first
backoff = 1.0      # first delay in seconds, growing exponentially
[steps.reprocess]
command = ["{python}", "scripts/qa/reprocess_single_matchup.py", "--matchup-id", "{matchup_id}"]
[[endpoints]]
name = "summary"
path = "/api/v1/dashboard/summary"
expect_status = 200
expect_json = { data_source = "article" }   # subset match; values may use placeholders
"""


def _write(tmp_path: Path, text: str, name: str = "recovery.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_runbook(path)
    assert info.value.exit_code == ExitCode.USAGE
    return info.value.message


# --- the default profile -------------------------------------------------------------------


def test_default_profile_top_level_values() -> None:
    runbook = default_runbook()

    assert runbook.api_base == "http://127.0.0.1:8100"
    assert runbook.input == "data/sample_ingest.json"
    assert runbook.output_dir == "ops_recovery_bundle"
    assert runbook.jobs == 4
    assert runbook.lang == "en"
    assert runbook.checks_dir is None
    assert runbook.required_env == ("DATABASE_URL", "INTERNAL_JOB_TOKEN")
    assert set(runbook.secret_env) >= {"DATABASE_URL", "INTERNAL_JOB_TOKEN"}
    assert dict(runbook.env) == {}
    assert runbook.capture == CaptureSpec()
    assert runbook.source == "built-in default profile"
    assert runbook.path is None


def test_default_capture_limits() -> None:
    capture = default_runbook().capture

    assert capture.timeout == 10.0
    assert capture.max_body_bytes == 10 * 1024 * 1024
    assert capture.concurrency == 8
    assert capture.readiness_deadline == 30.0
    assert capture.readiness_interval == 0.5
    assert capture.max_redirects == 5


def test_default_ingest_step_runs_the_retrying_ingest_script() -> None:
    ingest = default_runbook().steps["ingest"]

    assert ingest.command == (
        "{python}",
        "scripts/qa/run_ingest_with_retry.py",
        "--api-base",
        "{api_base}",
        "--input",
        "{input}",
        "--report",
        "{step_report}",
    )
    assert ingest.timeout == 600.0
    assert ingest.retries == 0
    assert ingest.retry_on_exit_codes == ()
    assert dict(ingest.optional_args) == {}


def test_default_reprocess_step_applies_one_matchup_with_an_optional_fingerprint() -> None:
    reprocess = default_runbook().steps["reprocess"]

    assert reprocess.command[:2] == ("{python}", "scripts/qa/reprocess_single_matchup.py")
    assert reprocess.command[reprocess.command.index("--mode") + 1] == "apply"
    assert reprocess.command[reprocess.command.index("--matchup-id") + 1] == "{matchup_id}"
    assert dict(reprocess.optional_args) == {
        "poll_fingerprint": ("--poll-fingerprint", "{poll_fingerprint}")
    }


def test_default_endpoints_are_health_summary_and_matchup() -> None:
    endpoints = {e.name: e for e in default_runbook().endpoints}

    assert list(endpoints) == ["health", "summary", "matchup"]
    assert endpoints["health"].path == "/health"
    assert endpoints["health"].expect_json == {"status": "ok"}
    assert endpoints["summary"].path == "/api/v1/dashboard/summary"
    assert "data_source" in endpoints["summary"].expect_keys
    assert "as_of" in endpoints["summary"].expect_keys
    assert endpoints["matchup"].path == "/api/v1/matchups/{matchup_id}"
    assert endpoints["matchup"].expect_json == {"matchup_id": "{matchup_id}"}
    assert all(e.expect_status == 200 for e in endpoints.values())
    assert [e.per_matchup for e in endpoints.values()] == [False, False, True]


def test_every_default_template_uses_known_placeholders_only() -> None:
    import string

    for step in default_runbook().steps.values():
        for arg in [*step.command, *(a for args in step.optional_args.values() for a in args)]:
            names = {n for _, n, _, _ in string.Formatter().parse(arg) if n is not None}
            assert names <= PLACEHOLDERS, arg


def test_no_config_file_means_the_default_profile() -> None:
    assert load_runbook(None) == default_runbook()


def test_an_empty_file_keeps_the_whole_default_profile_but_names_its_source(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "")

    runbook = load_runbook(path)

    assert runbook.steps == default_runbook().steps
    assert runbook.endpoints == DEFAULT_ENDPOINTS
    assert runbook.source == str(path)
    assert runbook.path == path


# --- overrides -----------------------------------------------------------------------------


def test_the_issue_example_loads_exactly(tmp_path: Path) -> None:
    path = _write(tmp_path, ISSUE_EXAMPLE)

    runbook = load_runbook(path)

    assert runbook.api_base == "http://127.0.0.1:8100"
    assert runbook.required_env == ("DATABASE_URL", "INTERNAL_JOB_TOKEN")
    assert runbook.steps["ingest"] == StepSpec(
        name="ingest",
        command=(
            "{python}",
            "scripts/qa/run_ingest_with_retry.py",
            "--api-base",
            "{api_base}",
            "--report",
            "{step_report}",
        ),
        timeout=600.0,
        retries=2,
        backoff=1.0,
    )
    assert runbook.steps["reprocess"] == StepSpec(
        name="reprocess",
        command=(
            "{python}",
            "scripts/qa/reprocess_single_matchup.py",
            "--matchup-id",
            "{matchup_id}",
        ),
    )
    assert runbook.endpoints == (
        EndpointSpec(
            name="summary",
            path="/api/v1/dashboard/summary",
            expect_status=200,
            expect_json={"data_source": "article"},
        ),
    )
    # Keys the example does not set keep the default profile.
    defaults = default_runbook()
    assert runbook.input == defaults.input
    assert runbook.output_dir == defaults.output_dir
    assert runbook.jobs == defaults.jobs
    assert runbook.capture == defaults.capture


def test_only_steps_ingest_keeps_default_endpoints_and_reprocess(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        [steps.ingest]
        timeout = 120
        retries = 3
        """,
    )

    runbook = load_runbook(path)
    defaults = default_runbook()

    assert runbook.endpoints == DEFAULT_ENDPOINTS
    assert len(runbook.endpoints) == 3
    assert runbook.steps["reprocess"] == defaults.steps["reprocess"]
    assert runbook.steps["ingest"].command == defaults.steps["ingest"].command
    assert runbook.steps["ingest"].timeout == 120.0
    assert runbook.steps["ingest"].retries == 3
    assert runbook.steps["ingest"].backoff == defaults.steps["ingest"].backoff
    assert runbook.api_base == defaults.api_base


def test_replacing_a_command_drops_the_defaults_optional_args(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        [steps.reprocess]
        command = ["{python}", "tools/reprocess.py", "{matchup_id}"]
        """,
    )

    assert dict(load_runbook(path).steps["reprocess"].optional_args) == {}


def test_changing_only_limits_keeps_the_defaults_optional_args(tmp_path: Path) -> None:
    path = _write(tmp_path, "[steps.reprocess]\nkill_grace = 1.5\n")

    reprocess = load_runbook(path).steps["reprocess"]

    assert reprocess.kill_grace == 1.5
    assert "poll_fingerprint" in reprocess.optional_args


def test_every_step_and_capture_key_can_be_set(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        api_base = "https://polls.example.org"
        input = "in.json"
        output_dir = "out"
        jobs = 2
        lang = "ko"
        checks_dir = "checks"
        secret_env = ["MY_TOKEN"]
        env = { APP_ENV = "recovery", EMPTY = "" }
        [steps.ingest]
        command = ["ingest", "--input", "{input}"]
        max_backoff = 30
        retry_on_exit_codes = [3, 75]
        cwd = "app"
        env = { PYTHONUNBUFFERED = "1" }
        optional_args = { mode = ["--mode", "{mode}"] }
        [capture]
        timeout = 2.5
        max_body_bytes = 4096
        concurrency = 1
        readiness_deadline = 0
        readiness_interval = 0.1
        max_redirects = 0
        """,
    )

    runbook = load_runbook(path)

    assert (runbook.api_base, runbook.input, runbook.output_dir) == (
        "https://polls.example.org",
        "in.json",
        "out",
    )
    assert (runbook.jobs, runbook.lang, runbook.checks_dir) == (2, "ko", "checks")
    assert runbook.secret_env == ("MY_TOKEN",)
    assert dict(runbook.env) == {"APP_ENV": "recovery", "EMPTY": ""}
    ingest = runbook.steps["ingest"]
    assert ingest.command == ("ingest", "--input", "{input}")
    assert ingest.max_backoff == 30.0
    assert ingest.retry_on_exit_codes == (3, 75)
    assert ingest.cwd == "app"
    assert dict(ingest.env) == {"PYTHONUNBUFFERED": "1"}
    assert dict(ingest.optional_args) == {"mode": ("--mode", "{mode}")}
    assert runbook.capture == CaptureSpec(
        timeout=2.5,
        max_body_bytes=4096,
        concurrency=1,
        readiness_deadline=0.0,
        readiness_interval=0.1,
        max_redirects=0,
    )


def test_expect_json_may_use_placeholders_and_nested_values(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        [[endpoints]]
        name = "matchup"
        path = "/api/v1/matchups/{matchup_id}"
        expect_keys = ["matchup_id"]
        expect_json = { matchup_id = "{matchup_id}", meta = { tags = ["{matchup_id}", 1] } }
        """,
    )

    (endpoint,) = load_runbook(path).endpoints

    assert endpoint.per_matchup
    assert endpoint.expect_keys == ("matchup_id",)
    assert endpoint.expect_json == {
        "matchup_id": "{matchup_id}",
        "meta": {"tags": ["{matchup_id}", 1]},
    }


# --- errors name the file and the dotted key -----------------------------------------------


@pytest.mark.parametrize(
    ("toml", "key", "problem"),
    [
        ("colour = 1", "colour", "unknown key"),
        ("[steps.ingest]\ntimout = 5", "steps.ingest.timout", "unknown key"),
        ("[steps.deploy]\ncommand = ['x']", "steps.deploy", "unknown key"),
        ("[capture]\nmax_body = 1", "capture.max_body", "unknown key"),
        ("[[endpoints]]\nname='a'\npath='/a'\nstatus=200", "endpoints[0].status", "unknown key"),
        ("jobs = '4'", "jobs", "must be an integer, got a string"),
        ("jobs = 0", "jobs", "must be at least 1"),
        ("jobs = true", "jobs", "must be an integer, got a boolean"),
        ("lang = 'fr'", "lang", "must be 'en' or 'ko'"),
        ("api_base = 8100", "api_base", "must be a string, got an integer"),
        ("output_dir = ''", "output_dir", "must not be empty"),
        ("required_env = 'DATABASE_URL'", "required_env", "must be a list of strings"),
        ("required_env = ['A', 1]", "required_env[1]", "must be a string, got an integer"),
        ("env = { A = 1 }", "env.A", "must be a string"),
        ("steps = 1", "steps", "must be a table, got an integer"),
        ("[steps.ingest]\ncommand = []", "steps.ingest.command", "must name a program"),
        ("[steps.ingest]\ncommand = 'python x.py'", "steps.ingest.command", "list of strings"),
        ("[steps.ingest]\ntimeout = '600'", "steps.ingest.timeout", "must be a number"),
        ("[steps.ingest]\ntimeout = 0", "steps.ingest.timeout", "greater than 0"),
        ("[steps.ingest]\nretries = -1", "steps.ingest.retries", "at least 0"),
        ("[steps.ingest]\nretries = 1.5", "steps.ingest.retries", "must be an integer"),
        ("[steps.ingest]\nbackoff = -1.0", "steps.ingest.backoff", "at least 0"),
        ("[steps.ingest]\nkill_grace = 'x'", "steps.ingest.kill_grace", "must be a number"),
        (
            "[steps.ingest]\nretry_on_exit_codes = 3",
            "steps.ingest.retry_on_exit_codes",
            "list of integers",
        ),
        (
            "[steps.ingest]\nretry_on_exit_codes = [3, 0]",
            "steps.ingest.retry_on_exit_codes[1]",
            "at least 1",
        ),
        ("[steps.ingest]\ncwd = ''", "steps.ingest.cwd", "must not be empty"),
        ("[steps.ingest]\nenv = { X = true }", "steps.ingest.env.X", "must be a string"),
        ("[capture]\ntimeout = 0", "capture.timeout", "greater than 0"),
        ("[capture]\nmax_body_bytes = 0", "capture.max_body_bytes", "at least 1"),
        ("[capture]\nconcurrency = 0", "capture.concurrency", "at least 1"),
        ("[capture]\nmax_redirects = -1", "capture.max_redirects", "at least 0"),
        ("endpoints = { name = 'a' }", "endpoints", "must be an array of tables"),
        ("[[endpoints]]\npath = '/a'", "endpoints[0].name", "is required"),
        ("[[endpoints]]\nname = 'a'", "endpoints[0].path", "is required"),
        ("[[endpoints]]\nname = 'a'\npath = 'a'", "endpoints[0].path", "must start with '/'"),
        (
            "[[endpoints]]\nname='a'\npath='/a'\nexpect_status=600",
            "endpoints[0].expect_status",
            "not an HTTP status",
        ),
        (
            "[[endpoints]]\nname='a'\npath='/a'\nexpect_status=99",
            "endpoints[0].expect_status",
            "at least 100",
        ),
        (
            "[[endpoints]]\nname='a'\npath='/a'\nexpect_json=[1]",
            "endpoints[0].expect_json",
            "must be a table",
        ),
        (
            "[[endpoints]]\nname='a'\npath='/a'\nexpect_keys='x'",
            "endpoints[0].expect_keys",
            "list of strings",
        ),
    ],
)
def test_bad_values_raise_config_error_naming_file_and_dotted_key(
    tmp_path: Path, toml: str, key: str, problem: str
) -> None:
    path = _write(tmp_path, toml + "\n")

    message = _error(path)

    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message


def test_duplicate_endpoint_names_are_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        [[endpoints]]
        name = "health"
        path = "/health"
        [[endpoints]]
        name = "summary"
        path = "/s"
        [[endpoints]]
        name = "health"
        path = "/healthz"
        """,
    )

    message = _error(path)

    assert message.startswith(f"{path}: endpoints[2].name: ")
    assert "duplicate endpoint name 'health'" in message


@pytest.mark.parametrize(
    ("toml", "key", "placeholder"),
    [
        ("[steps.ingest]\ncommand = ['{pyhton}', 'x.py']", "steps.ingest.command[0]", "{pyhton}"),
        (
            "[steps.reprocess]\ncommand = ['x', '--id={matchupid}']",
            "steps.reprocess.command[1]",
            "{matchupid}",
        ),
        (
            "[steps.ingest]\noptional_args = { mode = ['--mode', '{mood}'] }",
            "steps.ingest.optional_args.mode[1]",
            "{mood}",
        ),
        ("[[endpoints]]\nname='a'\npath='/a/{api_base}'", "endpoints[0].path", "{api_base}"),
        (
            "[[endpoints]]\nname='a'\npath='/a'\nexpect_json={ x = { y = ['{nope}'] } }",
            "endpoints[0].expect_json.x.y[0]",
            "{nope}",
        ),
    ],
)
def test_unknown_placeholders_are_named_with_the_known_ones(
    tmp_path: Path, toml: str, key: str, placeholder: str
) -> None:
    path = _write(tmp_path, toml + "\n")

    message = _error(path)

    assert message.startswith(f"{path}: {key}: unknown placeholder {placeholder}"), message
    assert "known:" in message


def test_an_unknown_optional_args_placeholder_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "[steps.ingest]\noptional_args = { colour = ['--c'] }\n")

    message = _error(path)

    assert message.startswith(f"{path}: steps.ingest.optional_args.colour: unknown placeholder")


def test_a_malformed_placeholder_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "[steps.ingest]\ncommand = ['python', '{api_base']\n")

    message = _error(path)

    assert message.startswith(f"{path}: steps.ingest.command[1]: malformed placeholder")


def test_a_nan_timeout_is_rejected(tmp_path: Path) -> None:
    # A NaN timeout compares false against every deadline: the step could never time out.
    path = _write(tmp_path, "[steps.ingest]\ntimeout = nan\n")

    message = _error(path)

    assert message.startswith(f"{path}: steps.ingest.timeout: ")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"

    assert _error(path) == f"config file not found: {path}"


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "recovery.toml"
    path.mkdir()

    assert _error(path) == f"config path is a directory, not a TOML file: {path}"


def test_invalid_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, 'api_base = "http://x"\njobs = = 3\n')

    message = _error(path)

    assert message.startswith(f"{path}: invalid TOML: ")
    assert "line 2" in message


def test_a_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "recovery.toml"
    path.write_bytes(b'lang = "\xff\xfe"\n')

    message = _error(path)

    assert message.startswith(f"cannot read config file {path}")


# --- pyproject.toml ------------------------------------------------------------------------


def test_pyproject_tool_table_is_a_runbook(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        [project]
        name = "election-poll-service"
        [tool.recovery_bundle]
        api_base = "http://127.0.0.1:9000"
        jobs = 2
        [tool.recovery_bundle.steps.ingest]
        retries = 1
        """,
        name="pyproject.toml",
    )

    runbook = load_runbook(path)

    assert runbook.api_base == "http://127.0.0.1:9000"
    assert runbook.jobs == 2
    assert runbook.steps["ingest"].retries == 1
    assert runbook.endpoints == DEFAULT_ENDPOINTS
    assert runbook.source == f"{path} [tool.recovery_bundle]"
    assert runbook.path == path


def test_pyproject_errors_name_the_file_the_table_and_the_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "[tool.recovery_bundle.capture]\nconcurrency = 'many'\n", name="pyproject.toml"
    )

    message = _error(path)

    assert message.startswith(f"{path} [tool.recovery_bundle]: capture.concurrency: ")


def test_pyproject_without_the_tool_table_is_an_error_when_given_explicitly(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "[tool.ruff]\nline-length = 100\n", name="pyproject.toml")

    assert _error(path) == f"{path}: no [tool.recovery_bundle] table"


def test_pyproject_tool_entry_that_is_not_a_table_is_a_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "[tool]\nrecovery_bundle = 1\n", name="pyproject.toml")

    message = _error(path)

    assert message.startswith(f"{path}")
    assert "recovery_bundle" in message


# --- find_config_file ----------------------------------------------------------------------


def test_find_config_file_finds_nothing_in_an_empty_directory(tmp_path: Path) -> None:
    assert find_config_file(tmp_path) is None


def test_find_config_file_prefers_recovery_toml(tmp_path: Path) -> None:
    _write(tmp_path, "[tool.recovery_bundle]\n", name="pyproject.toml")
    recovery = _write(tmp_path, "jobs = 1\n")

    assert find_config_file(tmp_path) == recovery


def test_find_config_file_uses_pyproject_with_the_tool_table(tmp_path: Path) -> None:
    pyproject = _write(tmp_path, "[tool.recovery_bundle]\njobs = 1\n", name="pyproject.toml")

    assert find_config_file(tmp_path) == pyproject


@pytest.mark.parametrize(
    "text", ["[tool.ruff]\nx = 1\n", "[project]\nname = 'x'\n", "this is = = not toml\n"]
)
def test_find_config_file_ignores_pyproject_without_the_tool_table(
    tmp_path: Path, text: str
) -> None:
    _write(tmp_path, text, name="pyproject.toml")

    assert find_config_file(tmp_path) is None


def test_find_config_file_ignores_a_directory_named_recovery_toml(tmp_path: Path) -> None:
    (tmp_path / "recovery.toml").mkdir()

    assert find_config_file(tmp_path) is None


# --- templates -----------------------------------------------------------------------------


def test_expand_fills_placeholders_and_never_reparses_values() -> None:
    values = {"python": "/usr/bin/python3", "matchup_id": "서울|{api_base}/x"}

    assert expand("{python}", values) == "/usr/bin/python3"
    assert expand("--id={matchup_id}", values) == "--id=서울|{api_base}/x"


def test_per_matchup_follows_the_path_template() -> None:
    assert EndpointSpec(name="m", path="/m/{matchup_id}/detail").per_matchup
    assert not EndpointSpec(name="s", path="/s").per_matchup


def test_tomllib_is_imported_only_when_a_file_must_be_parsed(tmp_path: Path) -> None:
    import subprocess
    import sys

    probe = (
        "import sys\nfrom pathlib import Path\n"
        "from recovery_plugin.config import find_config_file, load_runbook\n"
        "load_runbook(find_config_file(Path.cwd()))\nprint('tomllib' in sys.modules)"
    )

    def tomllib_loaded() -> str:
        proc = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return proc.stdout.strip()

    assert tomllib_loaded() == "False"
    # a project's own pyproject.toml without our table is not parsed at all
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    assert tomllib_loaded() == "False"
    (tmp_path / "pyproject.toml").unlink()
    _write(tmp_path, "jobs = 2\n")
    assert tomllib_loaded() == "True"
