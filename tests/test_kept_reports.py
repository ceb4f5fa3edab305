"""What a session keeps of its generated checks once they have been reported.

With 100,000 checks, what pytest and its plugins keep of each until the session ends is what
the run's memory is made of. Every hook, the JUnit XML and pytest-json-report still see the
three reports of every check; only what nobody reads afterwards is let go: the stand-in
setup/teardown reports in the terminal's ``stats`` (unless ``--durations`` reads them), what
pytest-json-report hung on a call report, and each check's cached location dict.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from recovery_plugin.pytest_plugin import items
from recovery_plugin.pytest_plugin.details import add_check_details
from recovery_plugin.pytest_plugin.fixtures import RecoverySim
from recovery_plugin.redact import MASK, Redactor
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID
from recovery_plugin.sim.harness import SimulatedService

CHECKS = ("recovery::health", "recovery::summary", f"recovery::matchup[{DEFAULT_MATCHUP_ID}]")

OBSERVER = """
import json
import pytest
from recovery_plugin.pytest_plugin.items import EndpointCheck

SEEN = []
LOCATIONS = {}

def pytest_runtest_logreport(report):
    SEEN.append([report.nodeid, report.when, report.outcome])

def pytest_collection_finish(session):
    for item in session.items:
        if isinstance(item, EndpointCheck):
            item.location  # asked for before the run, as a reporter would
            LOCATIONS[item.nodeid] = [list(item.location), "location" in item.__dict__]

@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    kept = {k: [[r.nodeid, r.when] for r in v if hasattr(r, "when")] for k, v in stats.items()}
    extra = [r.nodeid for v in stats.values() for r in v if hasattr(r, "_json_report_extra")]
    kinds = {r.nodeid: type(r).__name__ for v in stats.values() for r in v if hasattr(r, "when")}
    observed = {"seen": SEEN, "kept": kept, "extra": extra, "locations": LOCATIONS, "kinds": kinds}
    with open("observed.json", "w", encoding="utf-8") as f:
        json.dump(observed, f)
"""


pytestmark = pytest.mark.usefixtures("plugin_sessions_env")


@pytest.fixture
def unhealthy(recovery_sim: RecoverySim) -> SimulatedService:
    """Seeded, but the dashboard summary answers 500."""
    sim = recovery_sim(faults={"endpoints": {"summary": {"status": 500}}})
    sim.seed()
    return sim


def _run(pytester: pytest.Pytester, sim: SimulatedService, *extra: str) -> pytest.RunResult:
    pytester.makeconftest(OBSERVER)
    args = ["--recovery-base-url", sim.base_url, "--recovery-matchup-id", DEFAULT_MATCHUP_ID]
    # As the launcher's session: log capture off, so the checks take the cheap protocol.
    return pytester.runpytest_inprocess(*args, "-p", "no:logging", *extra)


def _observed(pytester: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pytester.path / "observed.json").read_text("utf-8"))
    return data


def test_every_report_reaches_hooks_junit_and_json_report_and_stand_ins_leave_the_stats(
    unhealthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(test_team="def test_user():\n    pass\n")
    junit, json_file = pytester.path / "junit.xml", pytester.path / "report.json"

    result = _run(
        pytester,
        unhealthy,
        f"--junit-xml={junit}",
        "--json-report",
        f"--json-report-file={json_file}",
    )

    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["GET /api/v1/dashboard/summary: status mismatch: expected 200, got 500*"]
    )
    observed = _observed(pytester)
    seen = {(nodeid, when) for nodeid, when, _outcome in observed["seen"]}
    for nodeid in CHECKS:
        assert {(nodeid, w) for w in ("setup", "call", "teardown")} <= seen
    tests = {t["nodeid"]: t for t in json.loads(json_file.read_text("utf-8"))["tests"]}
    for nodeid in CHECKS:
        assert {"setup", "call", "teardown"} <= tests[nodeid].keys()
    assert tests["recovery::summary"]["outcome"] == "failed"
    assert tests["recovery::summary"]["metadata"]["endpoint"] == "summary"
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert len(cases) == 4 and sum(c.find("failure") is not None for c in cases) == 1

    kept = observed["kept"]
    # The user's own test keeps pytest's protocol and its reports; the checks keep their calls.
    assert kept[""] == [
        ["test_team.py::test_user", "setup"],
        ["test_team.py::test_user", "teardown"],
    ]
    assert kept["failed"] == [["recovery::summary", "call"]]
    assert sorted(nodeid for nodeid, _ in kept["passed"]) == sorted(
        [CHECKS[0], CHECKS[2], "test_team.py::test_user"]
    )
    assert not [nodeid for nodeid in observed["extra"] if nodeid.startswith("recovery::")]
    # What stays of a check's call report is the small stand-in; the user's test keeps its own.
    kinds = observed["kinds"]
    assert {kinds[nodeid] for nodeid in CHECKS} == {"KeptCallReport"}
    assert kinds["test_team.py::test_user"] == "TestReport"


def test_with_durations_asked_for_the_stand_in_reports_stay(
    unhealthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    result = _run(pytester, unhealthy, "--durations=0", "-vv")

    result.assert_outcomes(passed=2, failed=1)
    observed = _observed(pytester)
    assert sorted(map(tuple, observed["kept"][""])) == sorted(
        (nodeid, when) for nodeid in CHECKS for when in ("setup", "teardown")
    )
    assert set(observed["kinds"].values()) == {"TestReport"}  # --durations reads them whole


def test_the_kept_call_reports_still_make_every_summary_line(
    unhealthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    """The counts, the ``--tb=line`` failure lines and the ``-r`` lines come from the kept
    reports: with the stand-ins they say what they said before."""
    result = _run(pytester, unhealthy, "--tb=line", "-rA")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*= FAILURES =*",
            "GET /api/v1/dashboard/summary: status mismatch: expected 200, got 500*",
            "*short test summary info*",
            "PASSED recovery::health",
            "FAILED recovery::summary*",
            "*1 failed, 2 passed*",
        ]
    )
    assert _observed(pytester)["kinds"]["recovery::summary"] == "KeptCallReport"


def test_a_report_a_hook_added_to_is_kept_whole(
    unhealthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    """A report another plugin hung its own attribute on is kept as it is, for that plugin."""
    pytester.makeconftest(
        OBSERVER
        + """
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().team_note = "kept"
"""
    )
    args = ["--recovery-base-url", unhealthy.base_url, "--recovery-matchup-id", DEFAULT_MATCHUP_ID]
    result = pytester.runpytest_inprocess(*args, "-p", "no:logging")

    result.assert_outcomes(passed=2, failed=1)
    assert set(_observed(pytester)["kinds"].values()) == {"TestReport"}


def test_a_checks_location_is_pytests_own_and_degrades_to_pytests_cache(
    unhealthy: SimulatedService, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(pytester, unhealthy).assert_outcomes(passed=2, failed=1)
    ours = _observed(pytester)["locations"]
    assert ours["recovery::health"][0][1:] == [None, "health: GET /health"]
    # A matchup check names its path as configured: its id is in its name already.
    matchup = f"matchup[{DEFAULT_MATCHUP_ID}]"
    assert ours[f"recovery::{matchup}"][0][2] == f"{matchup}: GET /api/v1/matchups/{{matchup_id}}"
    assert not any(cached for _location, cached in ours.values())

    # A pytest whose Item.location is not what we know: pytest's own, cached as pytest does.
    monkeypatch.setattr(items, "_PYTEST_LOCATION", None)
    _run(pytester, unhealthy).assert_outcomes(passed=2, failed=1)
    theirs = _observed(pytester)["locations"]
    assert {k: v[0] for k, v in theirs.items()} == {k: v[0] for k, v in ours.items()}
    assert all(cached for _location, cached in theirs.values())


def test_a_checks_details_are_kept_once_unless_masking_changed_them() -> None:
    plain = {"groups": [{"name": "response", "outcome": "failed", "reasons": ["got 404"]}]}
    secret = {"groups": [{"name": "response", "outcome": "failed", "reasons": ["tok-9c8b7a6d"]}]}
    json_report = {
        "tests": [{"nodeid": "a", "metadata": plain}, {"nodeid": "b", "metadata": secret}]
    }
    verification: dict[str, Any] = {"tests": [{"nodeid": "a"}, {"nodeid": "b"}]}

    judge: Any = type("Judge", (), {})()
    judge.spec = type("Spec", (), {"redactor": Redactor(["tok-9c8b7a6d"])})()
    judge.contract_summary = lambda: None
    add_check_details(verification, json_report, judge)

    first, second = verification["tests"]
    assert first["groups"] is plain["groups"]  # nothing to mask: the same object, not a copy
    assert second["groups"] == [{"name": "response", "outcome": "failed", "reasons": [MASK]}]
    assert secret["groups"][0]["reasons"] == ["tok-9c8b7a6d"]  # json-report's own stays as it was


def test_json_report_stages_are_what_json_report_would_write(
    unhealthy: SimulatedService, pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(test_team="def test_user():\n    assert 1 == 2\n")
    json_file = pytester.path / "report.json"

    result = _run(pytester, unhealthy, "--json-report", f"--json-report-file={json_file}")

    result.assert_outcomes(passed=2, failed=2)
    tests = {t["nodeid"]: t for t in json.loads(json_file.read_text("utf-8"))["tests"]}
    health = tests["recovery::health"]
    for when in ("setup", "call", "teardown"):
        assert health[when].keys() == {"duration", "outcome"}
        assert health[when]["outcome"] == "passed"
    summary_call = tests["recovery::summary"]["call"]
    assert summary_call["outcome"] == "failed"
    assert summary_call["longrepr"].startswith(
        "GET /api/v1/dashboard/summary: status mismatch: expected 200, got 500"
    )
    assert "crash" not in summary_call
    # A traceback is json-report's to render: the team's own failing test keeps its crash line.
    user_call = tests["test_team.py::test_user"]["call"]
    assert user_call["crash"]["path"].endswith("test_team.py")
    assert "assert 1 == 2" in user_call["longrepr"]
