"""The ``recovery`` pytest plugin, driven through pytester as a user's pytest session would be.

Sessions run in-process (``runpytest``) and as a subprocess (``runpytest_subprocess``) against a
fresh simulated service; nothing here talks to a real service.

The inner sessions load exactly our plugin and pytest-json-report (its dependency), not whatever
else is installed: plugin autoloading is off and ``PYTEST_PLUGINS`` names the two. That keeps
them hermetic and fast (an installed plugin that imports a big package lazily is re-imported in
every in-process run). The tests of what auto-loading through the ``recovery`` entry point does
(inertness, the entry point itself) turn autoloading back on with :func:`autoload`.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recovery_plugin import __version__
from recovery_plugin.pytest_plugin.fixtures import RecoverySim
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID, MATCHUP_IDS
from recovery_plugin.sim.harness import SimulatedService

RunPytest = Callable[..., pytest.RunResult]
DEAD_URL = "http://127.0.0.1:9"  # nothing listens on the discard port


pytestmark = pytest.mark.usefixtures("plugin_sessions_env")


def autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner sessions load every installed plugin, ours through its ``recovery`` entry point."""
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.delenv("PYTEST_PLUGINS")
    # Under xdist the outer worker's marker would make the inner session look like a worker
    # too (pytest-benchmark, for one, then warns, and the suite's warnings are errors).
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["inprocess", "subprocess"])
def runpytest(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> RunPytest:
    """Run the inner session in-process or as a subprocess (both, for the tests that take it)."""

    def run(*args: str) -> pytest.RunResult:
        if request.param == "inprocess":
            return pytester.runpytest_inprocess(*args)
        return pytester.runpytest_subprocess(*args, timeout=120)

    return run


@pytest.fixture
def healthy(recovery_sim: RecoverySim) -> SimulatedService:
    sim = recovery_sim()
    sim.seed()
    return sim


@pytest.fixture
def unhealthy(recovery_sim: RecoverySim) -> SimulatedService:
    """Seeded, but the dashboard summary answers 500."""
    sim = recovery_sim(faults={"endpoints": {"summary": {"status": 500}}})
    sim.seed()
    return sim


def gate_args(sim: SimulatedService, *extra: str) -> list[str]:
    return [
        "--recovery-base-url",
        sim.base_url,
        "--recovery-matchup-id",
        DEFAULT_MATCHUP_ID,
        *extra,
    ]


def requested_paths(sim: SimulatedService) -> list[str]:
    """The paths the simulated service was asked for, in order (from its access log)."""
    text = sim.access_log_path.read_text(encoding="utf-8")
    return re.findall(r'"GET (\S+) HTTP', text)


def only_run_dir(output_dir: Path) -> Path:
    (run_dir,) = list(output_dir.iterdir())
    return run_dir


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# --- inert in an unrelated session ---------------------------------------------------------

UNRELATED_TESTS = """
import pytest

@pytest.fixture
def three():
    return 3

def test_passes(three):
    assert three == 3

def test_fails():
    assert "left" == "right"

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    print("hello from", n)
"""


def _normalised(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        # The summary line's width follows its duration ("in 9.9s" / "in 10.1s (0:00:10)").
        line = re.sub(r" in \d+\.\d+s( \(\d+:\d\d:\d\d\))?", " in Ns", line).strip("= ")
        if line.startswith("plugins:"):
            line = line.replace(f"recovery-plugin-{__version__}, ", "")
        out.append(line)
    return out


def _pytesters_own(relative: Path) -> bool:
    """What ``runpytest_subprocess`` itself writes: its basetemp and the captured streams."""
    top = relative.parts[0]
    return top.startswith("runpytest-") or top in ("stdout", "stderr")


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` and a hash of its content (pytester's own files excluded)."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not _pytesters_own(path.relative_to(root))
    }


def test_loaded_into_an_unrelated_session_it_changes_nothing(
    pytester: pytest.Pytester, runpytest: RunPytest, monkeypatch: pytest.MonkeyPatch
) -> None:
    autoload(monkeypatch)
    pytester.makepyfile(test_unrelated=UNRELATED_TESTS)
    without = runpytest("-p", "no:recovery", "-p", "no:cacheprovider", "-rA")
    before = _snapshot(pytester.path)
    with_plugin = runpytest("-p", "no:cacheprovider", "-rA")

    assert without.ret == with_plugin.ret == pytest.ExitCode.TESTS_FAILED
    assert with_plugin.parseoutcomes() == without.parseoutcomes()
    with_plugin.assert_outcomes(passed=3, failed=1, skipped=1)
    # The plugin is listed among the plugins, and that is the only difference in the output.
    with_plugin.stdout.fnmatch_lines([f"plugins:*recovery-plugin-{__version__}*"])
    assert _normalised(with_plugin.outlines) == _normalised(without.outlines)
    assert with_plugin.errlines == without.errlines
    assert _snapshot(pytester.path) == before, "the inert plugin wrote files"


HEAVY_PROBE = """
import sys

HEAVY = ("httpx", "tenacity", "recovery_plugin.http.fetch", "recovery_plugin.http.batch", "recovery_plugin.http.checks",
         "recovery_plugin.run.verification", "recovery_plugin.sim.harness")

def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line("HEAVY " + repr(sorted(m for m in HEAVY if m in sys.modules)))
"""


def _heavy(result: pytest.RunResult) -> str:
    (line,) = [line for line in result.outlines if line.startswith("HEAVY ")]
    return line


def test_an_inert_session_does_not_import_httpx(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(HEAVY_PROBE)
    pytester.makepyfile("def test_one():\n    pass\n")
    # Only our plugin (and pytest-json-report) loaded: nothing heavy at all.
    inert = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    inert.assert_outcomes(passed=1)
    assert _heavy(inert) == "HEAVY []"
    # Enabled and collecting its checks, it still needs no HTTP client: only a capture does.
    enabled = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--recovery-base-url", DEAD_URL, "--collect-only", timeout=120
    )
    assert "'httpx'" not in _heavy(enabled)
    # The probe can see them: a test file that imports httpx shows it.
    pytester.makepyfile(test_client="import httpx\n\ndef test_two():\n    pass\n")
    seen = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    assert "'httpx'" in _heavy(seen)
    # With every installed plugin auto-loaded, ours adds nothing to what the others import.
    autoload(monkeypatch)
    everything = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    without_ours = pytester.runpytest_subprocess(
        "-p", "no:recovery", "-p", "no:cacheprovider", timeout=120
    )
    assert _heavy(everything) == _heavy(without_ours)


def test_loading_the_plugin_module_costs_only_its_own_light_modules() -> None:
    """What ``pytest11`` loading adds to every session: no third-party import beyond pytest."""
    probe = (
        "import sys, pytest\n"
        "before = set(sys.modules)\n"
        "import recovery_plugin.plugin\n"
        "new = set(sys.modules) - before\n"
        "third = sorted(m for m in new if m.split('.')[0] not in sys.stdlib_module_names"
        " and m.split('.')[0] not in ('recovery_plugin', '_pytest', 'pytest'))\n"
        "ours = sorted(m for m in new if m.startswith('recovery_plugin.'))\n"
        "print('THIRD', third)\n"
        "print('OURS', ours)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "THIRD []" in proc.stdout
    ours = proc.stdout.split("OURS ", 1)[1]
    for heavy in ("capture", "checks", "verification", "sim.harness", "sim.server"):
        assert f"'recovery_plugin.{heavy}'" not in ours


def test_api_base_url_in_the_environment_alone_does_not_enable_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_BASE_URL", DEAD_URL)  # e.g. exported in a deploy job
    pytester.makepyfile("def test_one():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*recovery::*")


def test_the_entry_point_loads_the_plugin(
    healthy: SimulatedService, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    autoload(monkeypatch)
    result = pytester.runpytest_subprocess(*gate_args(healthy), timeout=120)
    result.stdout.fnmatch_lines([f"plugins:*recovery-plugin-{__version__}*"])
    result.assert_outcomes(passed=3)
    blocked = pytester.runpytest_subprocess("-p", "no:recovery", *gate_args(healthy), timeout=120)
    assert blocked.ret == pytest.ExitCode.USAGE_ERROR
    blocked.stderr.fnmatch_lines(["*unrecognized arguments: --recovery-base-url*"])


def test_without_pytest_json_report_loaded_it_says_what_to_add(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_PLUGINS", "recovery_plugin.plugin")
    result = pytester.runpytest("--recovery-base-url", DEAD_URL)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: recovery: *pytest-json-report*add -p pytest_jsonreport.plugin"]
    )


# --- the plain-pytest gate -----------------------------------------------------------------


def test_the_gate_passes_against_a_healthy_service(
    healthy: SimulatedService, pytester: pytest.Pytester, runpytest: RunPytest
) -> None:
    junit = pytester.path / "junit.xml"
    result = runpytest(*gate_args(healthy, "-v", f"--junit-xml={junit}"))
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["*collected 3 items", "recovery::health PASSED*", "recovery::summary PASSED*"]
    )
    assert f"recovery::matchup[{DEFAULT_MATCHUP_ID}] PASSED" in result.stdout.str()
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "0", "0")


def test_the_gate_fails_against_an_unhealthy_service_and_says_why(
    unhealthy: SimulatedService, pytester: pytest.Pytester, runpytest: RunPytest
) -> None:
    junit = pytester.path / "junit.xml"
    result = runpytest(*gate_args(unhealthy, f"--junit-xml={junit}"))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*summary: GET /api/v1/dashboard/summary*",
            "GET /api/v1/dashboard/summary: status mismatch: expected 200, got 500*",
            "FAILED recovery::summary - GET /api/v1/dashboard/summary: status mismatch*",
        ]
    )
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    (failure,) = suite.iter("failure")
    assert "expected 200, got 500" in (failure.get("message") or "")


def test_the_gates_junit_xml_is_masked(
    healthy: SimulatedService, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "tok-&-7e21c9d04b"  # XML-escaped in the file: masked all the same
    monkeypatch.setenv("INTERNAL_JOB_TOKEN", secret)
    pytester.makefile(
        ".toml",
        gate=f'[[endpoints]]\nname = "health"\npath = "/health"\n'
        f'assert = [{{ path = "$.status", op = "==", value = "{secret}" }}]\n',
    )
    # The team's own test in the same session prints and quotes the secret as it fails.
    pytester.makepyfile(
        test_team="import os\n\ndef test_token():\n"
        "    print(os.environ['INTERNAL_JOB_TOKEN'])\n"
        "    assert os.environ['INTERNAL_JOB_TOKEN'] == 'x'\n"
    )
    junit = pytester.path / "junit.xml"

    result = pytester.runpytest_inprocess(
        *gate_args(healthy, "--recovery-config=gate.toml", f"--junit-xml={junit}"),
        "test_team.py",
    )

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    text = junit.read_text(encoding="utf-8")
    assert secret not in text and "tok-&amp;-7e21c9d04b" not in text
    failures = {
        case.get("name"): case.find("failure")
        for case in ET.parse(junit).getroot().iter("testcase")
        if case.find("failure") is not None
    }
    assert set(failures) == {"health", "test_token"}
    assert "$.status" in (failures["health"].get("message") or "")
    assert "***" in (failures["test_token"].text or "")


def test_an_unreachable_service_fails_every_check(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", fast="[capture]\nreadiness_deadline = 0.2\ntimeout = 1\n")
    result = pytester.runpytest(
        "--recovery-base-url", DEAD_URL, "--recovery-matchup-id", "X", "--recovery-config=fast.toml"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["GET /health: connection refused (is the service up?)*"])


# --- options and their ini twins -----------------------------------------------------------


def test_base_url_from_the_ini_file(healthy: SimulatedService, pytester: pytest.Pytester) -> None:
    pytester.makeini(
        f"[pytest]\nrecovery_base_url = {healthy.base_url}\n"
        f"recovery_matchup_ids = {DEFAULT_MATCHUP_ID}\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)


def test_base_url_and_matchup_ids_from_pyproject(
    healthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    ids = json.dumps(list(MATCHUP_IDS[:2]), ensure_ascii=False)
    pytester.makepyprojecttoml(
        f'[tool.pytest.ini_options]\nrecovery_base_url = "{healthy.base_url}"\n'
        f"recovery_matchup_ids = {ids}\n"
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=4)
    for matchup_id in MATCHUP_IDS[:2]:
        assert f"recovery::matchup[{matchup_id}] PASSED" in result.stdout.str()


def test_env_api_base_url_overrides_the_ini_value_and_the_flag_overrides_both(
    healthy: SimulatedService,
    unhealthy: SimulatedService,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytester.makeini(f"[pytest]\nrecovery_base_url = {unhealthy.base_url}\n")
    pytester.runpytest().assert_outcomes(passed=1, failed=1)  # the ini's (unhealthy) service
    monkeypatch.setenv("API_BASE_URL", healthy.base_url)
    pytester.runpytest().assert_outcomes(passed=2)  # env wins over the ini
    pytester.runpytest("--recovery-base-url", unhealthy.base_url).assert_outcomes(
        passed=1, failed=1
    )
    assert "/api/v1/dashboard/summary" in requested_paths(healthy)


def test_matchup_ids_flag_repeats_dedupes_and_replaces_the_ini_list(
    healthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    first, second, third = MATCHUP_IDS[:3]
    pytester.makeini(f"[pytest]\nrecovery_matchup_ids =\n    {first}\n    {second}\n")
    from_ini = pytester.runpytest("--recovery-base-url", healthy.base_url, "-v")
    from_ini.assert_outcomes(passed=4)
    assert f"recovery::matchup[{second}] PASSED" in from_ini.stdout.str()

    args = ["--recovery-base-url", healthy.base_url, "-v"]
    from_flags = pytester.runpytest(
        *args, "--recovery-matchup-id", third, "--recovery-matchup-id", third
    )
    from_flags.assert_outcomes(passed=3)
    assert f"recovery::matchup[{third}] PASSED" in from_flags.stdout.str()
    assert f"matchup[{first}]" not in from_flags.stdout.str()


def test_an_empty_matchup_id_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--recovery-base-url", DEAD_URL, "--recovery-matchup-id", " ")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: recovery: invalid matchup id ' ' from --recovery-matchup-id: *empty"]
    )


ONLY_HEALTH = """
[[endpoints]]
name = "alive"
path = "/health"
expect_json = { status = "ok" }
"""


def test_recovery_config_flag_gives_the_endpoints(
    healthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    pytester.makefile(".toml", only_health=ONLY_HEALTH)
    result = pytester.runpytest(*gate_args(healthy, "--recovery-config", "only_health.toml", "-v"))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["recovery::alive PASSED*"])


def test_recovery_config_ini_is_relative_to_the_ini_file(
    healthy: SimulatedService, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (pytester.path / "ops").mkdir()
    (pytester.path / "ops" / "recovery.toml").write_text(ONLY_HEALTH, encoding="utf-8")
    pytester.makeini(
        f"[pytest]\nrecovery_base_url = {healthy.base_url}\nrecovery_config = ops/recovery.toml\n"
    )
    (pytester.path / "sub").mkdir()
    monkeypatch.chdir(pytester.path / "sub")  # run from a subdirectory: the ini is found above
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["../recovery::alive PASSED*"])  # node ids are cwd-relative


def test_recovery_config_from_the_environment_and_from_discovery(
    healthy: SimulatedService, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".toml", only_health=ONLY_HEALTH)
    monkeypatch.setenv("RECOVERY_CONFIG", "only_health.toml")
    pytester.runpytest(*gate_args(healthy, "-v")).stdout.fnmatch_lines(["recovery::alive PASSED*"])
    monkeypatch.delenv("RECOVERY_CONFIG")
    (pytester.path / "recovery.toml").write_text(ONLY_HEALTH, encoding="utf-8")
    discovered = pytester.runpytest(*gate_args(healthy, "-v"))
    discovered.assert_outcomes(passed=1)
    discovered.stdout.fnmatch_lines(["recovery::alive PASSED*"])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "ERROR: recovery: config file not found: *missing.toml"),
        (
            '[capture]\ntimeout = "x"\n',
            "ERROR: recovery: *broken.toml: capture.timeout: must be a number*",
        ),
        ("[capture\n", "ERROR: recovery: *broken.toml: invalid TOML*"),
    ],
    ids=["missing", "bad-value", "bad-toml"],
)
def test_a_bad_config_is_a_usage_error_naming_the_file(
    pytester: pytest.Pytester, runpytest: RunPytest, content: str | None, expected: str
) -> None:
    name = "missing.toml"
    if content is not None:
        pytester.makefile(".toml", broken=content)
        name = "broken.toml"
    result = runpytest("--recovery-base-url", DEAD_URL, "--recovery-config", name)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "Traceback" not in result.stderr.str()


def test_a_bad_config_named_in_the_ini_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", broken='[capture]\ntimeout = "x"\n')
    pytester.makeini(f"[pytest]\nrecovery_base_url = {DEAD_URL}\nrecovery_config = broken.toml\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: recovery: *broken.toml: capture.timeout: must be a number*"]
    )


def test_output_dir_writes_the_capture_and_a_verify_report(
    healthy: SimulatedService,
    pytester: pytest.Pytester,
    runpytest: RunPytest,
    assert_valid_report: Callable[[dict[str, Any]], None],
) -> None:
    result = runpytest(*gate_args(healthy, "--recovery-output-dir", "gate"))
    result.assert_outcomes(passed=3)
    run_dir = only_run_dir(pytester.path / "gate")
    report = read_json(run_dir / "recovery_bundle_report.json")
    assert_valid_report(report)
    result.stdout.fnmatch_lines([f"recovery report: {run_dir / 'recovery_bundle_report.json'}"])
    assert report["mode"] == "verify"
    assert report["status"] == "success"
    assert report["api_base"] == healthy.base_url
    assert report["matchup_ids"] == [DEFAULT_MATCHUP_ID]
    assert [(s["name"], s["status"]) for s in report["steps"]] == [("capture", "success")]
    assert report["verification"]["summary"]["passed"] == 3
    assert report["readiness"]["ready"] is True
    captures = read_json(run_dir / "api_capture.json")["captures"]
    by_name = {c["name"]: c for c in captures}
    assert sorted(by_name) == ["health", "matchup", "summary"]
    assert by_name["matchup"]["body"]["matchup_id"] == DEFAULT_MATCHUP_ID


def test_output_dir_of_an_unhealthy_service_has_the_guide(
    unhealthy: SimulatedService,
    pytester: pytest.Pytester,
    assert_valid_report: Callable[[dict[str, Any]], None],
) -> None:
    pytester.makeini("[pytest]\nrecovery_output_dir = gate\n")
    (pytester.path / "sub").mkdir()
    result = pytester.runpytest(*gate_args(unhealthy), "sub")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = read_json(only_run_dir(pytester.path / "gate") / "recovery_bundle_report.json")
    assert_valid_report(report)
    assert report["status"] == "failed"
    (failed,) = [t for t in report["verification"]["tests"] if t["outcome"] == "failed"]
    assert failed["endpoint"] == "summary"
    assert "expected 200, got 500" in failed["message"]
    assert any(
        line.startswith("rollback-guide: capture failed for summary")
        for line in report["ops_checklist"]
    )


def test_collect_only_lists_the_checks_and_sends_nothing(
    healthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    result = pytester.runpytest(
        *gate_args(healthy, "--collect-only", "--recovery-output-dir", "gate")
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "collected 3 items",
            "<RecoveryChecks recovery>",
            "  <EndpointCheck health>",
            "  <EndpointCheck summary>",
            "  <EndpointCheck matchup*>",
            "*3 tests collected*",
        ]
    )
    assert requested_paths(healthy) == []
    assert not (pytester.path / "gate").exists()


def test_k_selects_generated_checks_and_only_those_are_requested(
    healthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    result = pytester.runpytest(*gate_args(healthy, "-k", "summary", "-v"))
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["recovery::summary PASSED*"])
    paths = requested_paths(healthy)
    assert "/api/v1/dashboard/summary" in paths
    assert not any(p.startswith("/api/v1/matchups/") for p in paths)
    # -k also sees the marker shared by every generated check, and so does -m
    pytester.makepyfile("def test_unrelated():\n    pass\n")
    by_keyword = pytester.runpytest(*gate_args(healthy, "-k", "recovery_check and not health"))
    by_keyword.assert_outcomes(passed=2, deselected=2)
    pytester.runpytest(*gate_args(healthy, "-m", "recovery_check")).assert_outcomes(
        passed=3, deselected=1
    )


def test_each_check_carries_its_marker_with_its_endpoint_and_id(
    healthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    """``recovery_check(endpoint, matchup_id)`` is there for a hook to read, a mark a hook adds
    to a check (here ``xfail``) works as on any test, and so does the check's ``stash``."""
    pytester.makeconftest(
        """
import json
import pytest

SEEN = pytest.StashKey()
STASHED = []

def pytest_collection_modifyitems(items):
    seen = {}
    for item in items:
        mark = item.get_closest_marker("recovery_check")
        seen[item.nodeid] = [list(mark.args), "recovery_check" in item.keywords]
        item.stash[SEEN] = mark.args[0]
        if item.nodeid == "recovery::health":
            item.add_marker(pytest.mark.xfail(reason="told to"))
    with open("marks.json", "w", encoding="utf-8") as f:
        json.dump(seen, f)

def pytest_runtest_makereport(item, call):
    STASHED.append(item.stash[SEEN])

def pytest_sessionfinish():
    with open("stashed.json", "w", encoding="utf-8") as f:
        json.dump(sorted(set(STASHED)), f)
"""
    )
    result = pytester.runpytest(*gate_args(healthy, "-rX"))

    result.assert_outcomes(passed=2, xpassed=1)
    result.stdout.fnmatch_lines(["XPASS recovery::health - told to"])
    seen = json.loads((pytester.path / "marks.json").read_text("utf-8"))
    assert seen == {
        "recovery::health": [["health", None], True],
        "recovery::summary": [["summary", None], True],
        f"recovery::matchup[{DEFAULT_MATCHUP_ID}]": [["matchup", DEFAULT_MATCHUP_ID], True],
    }
    # What a plugin puts in a check's stash at collection is there when the check runs.
    stashed = json.loads((pytester.path / "stashed.json").read_text("utf-8"))
    assert stashed == ["health", "matchup", "summary"]


def test_a_check_a_hook_marks_skip_is_skipped_with_its_reason(
    healthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    """A team skipping a generated check (during maintenance, say) by a mark: reported as
    skipped at the check, with the reason, in the console, the JUnit XML and the JSON report."""
    pytester.makeconftest(
        """
import pytest

def pytest_collection_modifyitems(items):
    for item in items:
        if item.nodeid == "recovery::summary":
            item.add_marker(pytest.mark.skip(reason="summary under maintenance"))
        if item.nodeid == "recovery::health":
            item.add_marker(pytest.mark.skipif(True, reason="health checked elsewhere"))
"""
    )
    junit, report = pytester.path / "junit.xml", pytester.path / "report.json"
    result = pytester.runpytest(
        *gate_args(healthy, "-rs", f"--junit-xml={junit}", "--json-report"),
        f"--json-report-file={report}",
    )

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED [1] recovery::summary: summary under maintenance",
            "SKIPPED [1] recovery::health: health checked elsewhere",
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str()
    skipped = [
        c for c in ET.parse(junit).getroot().iter("testcase") if c.find("skipped") is not None
    ]
    assert len(skipped) == 2
    tests = {t["nodeid"]: t["outcome"] for t in json.loads(report.read_text("utf-8"))["tests"]}
    assert tests["recovery::summary"] == "skipped"


def test_capture_timeout_flag_env_and_ini(
    recovery_sim: RecoverySim, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = recovery_sim(faults={"endpoints": {"summary": {"delay": 1.5}}})
    sim.seed()
    timed_out = "GET /api/v1/dashboard/summary: timed out waiting for the response*"

    by_flag = pytester.runpytest(*gate_args(sim, "--recovery-capture-timeout", "0.5"))
    by_flag.assert_outcomes(passed=2, failed=1)
    by_flag.stdout.fnmatch_lines([timed_out])

    pytester.makeini("[pytest]\nrecovery_capture_timeout = 0.5\n")
    by_ini = pytester.runpytest(*gate_args(sim))
    by_ini.assert_outcomes(passed=2, failed=1)
    by_ini.stdout.fnmatch_lines([timed_out])

    pytester.makeini("[pytest]\nrecovery_capture_timeout = 5\n")
    monkeypatch.setenv("RECOVERY_CAPTURE_TIMEOUT", "0.5")
    by_env = pytester.runpytest(*gate_args(sim))  # the environment wins over the ini
    by_env.assert_outcomes(passed=2, failed=1)
    by_env.stdout.fnmatch_lines([timed_out])

    patient = pytester.runpytest(*gate_args(sim, "--recovery-capture-timeout", "5"))
    patient.assert_outcomes(passed=3)  # and the flag over both


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        (
            ["--recovery-capture-timeout", "abc"],
            "",
            "*'abc' from --recovery-capture-timeout: must be a number*",
        ),
        (
            [],
            "recovery_capture_timeout = -1",
            "*'-1' from ini recovery_capture_timeout: must be greater than 0",
        ),
        (
            ["--recovery-base-url", "ftp://x"],
            "",
            "*'ftp://x' from --recovery-base-url: must be an http*",
        ),
        ([], "recovery_base_url = localhost:8100", "*'localhost:8100' from ini recovery_base_url*"),
    ],
    ids=["timeout-flag", "timeout-ini", "url-flag", "url-ini"],
)
def test_a_bad_option_value_is_a_usage_error_naming_its_source(
    pytester: pytest.Pytester, args: list[str], ini: str, expected: str
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    if not any(a == "--recovery-base-url" for a in args) and "base_url" not in ini:
        args = [*args, "--recovery-base-url", DEAD_URL]
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: recovery: invalid *" + expected.lstrip("*")])


# --- the recovery_captures fixture ---------------------------------------------------------

USER_CHECKS = f"""
import pytest

MATCHUP_ID = {DEFAULT_MATCHUP_ID!r}

def test_the_summary_comes_from_articles(recovery_captures):
    summary = recovery_captures.get("summary")
    assert summary.status == 200
    assert summary.body["data_source"] == "article"

def test_the_matchup_is_the_one_asked_for(recovery_captures):
    assert recovery_captures.matchup_ids == [MATCHUP_ID]
    capture = recovery_captures.get("matchup", MATCHUP_ID)
    assert capture.body["matchup_id"] == MATCHUP_ID
    assert recovery_captures.readiness.ready
    assert sorted(c.name for c in recovery_captures) == ["health", "matchup", "summary"]

def test_unknown_names_are_explained(recovery_captures):
    with pytest.raises(KeyError, match="no endpoint named 'nope'.*known: health, summary, matchup"):
        recovery_captures.get("nope")
    with pytest.raises(KeyError, match="per matchup: give a matchup_id"):
        recovery_captures.get("matchup")
"""


def test_a_users_check_file_reads_the_captures(
    healthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(test_team_checks=USER_CHECKS)
    result = pytester.runpytest(*gate_args(healthy))
    result.assert_outcomes(passed=6)
    # one batch: the user's checks did not make the service answer twice
    assert requested_paths(healthy).count("/api/v1/dashboard/summary") == 1


def test_a_users_check_sees_a_failing_endpoint(
    unhealthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(test_team_checks=USER_CHECKS)
    result = pytester.runpytest(*gate_args(unhealthy))
    result.assert_outcomes(passed=4, failed=2)
    result.stdout.fnmatch_lines(
        ["FAILED test_team_checks.py::test_the_summary_comes_from_articles*"]
    )


def test_recovery_captures_fails_clearly_when_the_plugin_is_not_enabled(
    pytester: pytest.Pytester, runpytest: RunPytest
) -> None:
    pytester.makepyfile(test_team_checks=USER_CHECKS)
    result = runpytest()
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [
            "*recovery_captures needs the recovery plugin enabled: pass --recovery-base-url URL"
            " (or set the recovery_base_url ini option)"
        ]
    )


# --- hooks (makeconftest) ------------------------------------------------------------------


def test_hook_pytest_recovery_endpoints_adds_and_removes_checks(
    healthy: SimulatedService, pytester: pytest.Pytester, runpytest: RunPytest
) -> None:
    pytester.makeconftest(
        """
        from recovery_plugin.config import EndpointSpec

        def pytest_recovery_endpoints(config, endpoints):
            endpoints[:] = [e for e in endpoints if e.name != "summary"]
            endpoints.append(EndpointSpec(name="health-again", path="/health"))
            endpoints.append(EndpointSpec(name="version", path="/api/v1/version"))
            endpoints.append(
                EndpointSpec(
                    name="matchup-again",
                    path="/api/v1/matchups/{matchup_id}",
                    expect_json={"matchup_id": "{matchup_id}"},
                )
            )
        """
    )
    result = runpytest(*gate_args(healthy, "-v"))
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "recovery::health PASSED*",
            "recovery::health-again PASSED*",
            "recovery::version FAILED*",
            "GET /api/v1/version: status mismatch: expected 200, got 404*",
        ]
    )
    assert f"recovery::matchup-again[{DEFAULT_MATCHUP_ID}] PASSED" in result.stdout.str()
    assert "/api/v1/dashboard/summary" not in requested_paths(healthy)


def test_hook_pytest_recovery_checklist_adds_a_line_to_the_written_report(
    unhealthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    pytester.makeconftest(
        """
        def pytest_recovery_checklist(report, checklist):
            failed = report["verification"]["summary"]["failed"]
            checklist.append(f"escalate: page #ops-oncall ({report['status']}, {failed} failed)")
        """
    )
    pytester.runpytest(*gate_args(unhealthy, "--recovery-output-dir", "gate"))
    report = read_json(only_run_dir(pytester.path / "gate") / "recovery_bundle_report.json")
    assert report["ops_checklist"][-1] == "escalate: page #ops-oncall (failed, 1 failed)"


def test_hook_pytest_recovery_report_changes_the_written_report(
    healthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    pytester.makeconftest(
        """
        def pytest_recovery_report(report):
            report["x_ticket"] = "OPS-1234"
            report["ops_checklist"].append("reviewed-by: qa")
        """
    )
    pytester.runpytest(*gate_args(healthy, "--recovery-output-dir", "gate"))
    report = read_json(only_run_dir(pytester.path / "gate") / "recovery_bundle_report.json")
    assert report["x_ticket"] == "OPS-1234"
    assert report["ops_checklist"][-1] == "reviewed-by: qa"
    assert report["status"] == "success"


def test_hooks_are_not_called_when_the_plugin_is_inert(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_recovery_endpoints(config, endpoints):
            raise AssertionError("called")
        """
    )
    pytester.makepyfile("def test_one():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=1)


def test_optional_hook_implementations_load_without_the_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As docs/plugin.md says: plain implementations need the plugin, optional ones do not."""
    monkeypatch.setenv("PYTEST_PLUGINS", "pytest_jsonreport.plugin")  # everything but ours
    pytester.makepyfile("def test_one():\n    pass\n")
    pytester.makeconftest("def pytest_recovery_report(report):\n    pass\n")
    plain = pytester.runpytest_subprocess(timeout=120)
    assert plain.ret == pytest.ExitCode.INTERNAL_ERROR
    plain.stdout.fnmatch_lines(["*unknown hook 'pytest_recovery_report'*"])
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(optionalhook=True)
        def pytest_recovery_report(report):
            pass
        """
    )
    pytester.runpytest_subprocess(timeout=120).assert_outcomes(passed=1)
