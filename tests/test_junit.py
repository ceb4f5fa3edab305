"""JUnit XML from `run`/`verify`: a testcase per assertion group, with the reason, masked."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from recovery_plugin.pytest_plugin.fixtures import RecoverySim, RunBundle
from recovery_plugin.report.junit import junit_xml
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID

SECRET = "tok-9c1f3e7a5b2d"

CONFIG = f"""
[[endpoints]]
name = "health"
path = "/health"
max_ms = 60000

[[endpoints.assert]]
path = "$.status"
op = "=="
value = "{SECRET}"
"""


def _cases(path: Path) -> dict[str, ET.Element]:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    return {str(case.get("name")): case for case in suite.iter("testcase")}


def test_each_assertion_group_is_a_testcase_with_its_reason_and_no_secret(
    recovery_sim: RecoverySim, run_bundle: RunBundle, tmp_path: Path
) -> None:
    sim = recovery_sim()
    sim.seed()
    config = tmp_path / "recovery.toml"
    config.write_text(CONFIG, encoding="utf-8")
    junit = tmp_path / "junit.xml"

    result = run_bundle(
        "verify",
        "--config",
        str(config),
        "--api-base",
        sim.base_url,
        "--matchup-id",
        DEFAULT_MATCHUP_ID,
        "--junit-xml",
        str(junit),
        env={"INTERNAL_JOB_TOKEN": SECRET},
    )

    assert result.exit_code == 1, result.output
    text = junit.read_text(encoding="utf-8")
    assert SECRET not in text
    cases = _cases(junit)
    assert cases["health::response"].find("failure") is None
    assert cases["health::max_ms"].find("failure") is None
    failure = cases["health::assert"].find("failure")
    assert failure is not None
    assert "$.status" in (failure.get("message") or "")
    assert "***" in (failure.text or "")
    assert cases["health::assert"].get("classname") == "recovery::health"
    # The report keeps the same groups.
    (health,) = [t for t in result.report["verification"]["tests"] if t["endpoint"] == "health"]
    assert [(g["name"], g["outcome"]) for g in health["groups"]] == [
        ("response", "passed"),
        ("assert", "failed"),
        ("max_ms", "passed"),
        ("contract", "passed"),
    ]
    assert SECRET not in str(result.report)


def test_show_and_the_step_summary_name_the_failed_groups(
    recovery_sim: RecoverySim, run_bundle: RunBundle, tmp_path: Path
) -> None:
    sim = recovery_sim()
    sim.seed()
    config = tmp_path / "recovery.toml"
    config.write_text(CONFIG, encoding="utf-8")
    step_summary = tmp_path / "summary.md"
    result = run_bundle(
        "verify",
        "--config",
        str(config),
        "--api-base",
        sim.base_url,
        "--matchup-id",
        DEFAULT_MATCHUP_ID,
        env={"INTERNAL_JOB_TOKEN": SECRET, "GITHUB_STEP_SUMMARY": str(step_summary)},
    )
    assert result.exit_code == 1, result.output
    line = "groups failed: assert (passed: response, max_ms, contract)"
    assert line in step_summary.read_text(encoding="utf-8")
    assert result.report_path is not None
    for view in ("text", "markdown", "html"):
        shown = run_bundle("show", str(result.report_path), "--format", view)
        assert shown.exit_code == 0, shown.output
        assert line in shown.output, view
        assert SECRET not in shown.output


def test_a_polled_check_has_a_poll_group_and_its_last_attempts_groups(
    recovery_sim: RecoverySim, run_bundle: RunBundle, tmp_path: Path
) -> None:
    sim = recovery_sim(faults={"endpoints": {"summary": {"status": 503}}})
    sim.seed()
    config = tmp_path / "recovery.toml"
    config.write_text(
        '[[endpoints]]\nname = "summary"\npath = "/api/v1/dashboard/summary"\n'
        "poll = { deadline = 0.5, interval = 0.1 }\n",
        encoding="utf-8",
    )
    junit = tmp_path / "junit.xml"

    result = run_bundle(
        "verify",
        "--config",
        str(config),
        "--api-base",
        sim.base_url,
        "--matchup-id",
        DEFAULT_MATCHUP_ID,
        "--junit-xml",
        str(junit),
    )

    assert result.exit_code == 1, result.output
    cases = _cases(junit)
    poll = cases["summary::poll"].find("failure")
    response = cases["summary::response"].find("failure")
    assert poll is not None and response is not None
    assert "503" in (response.get("message") or "")
    assert "deadline" in (poll.get("message") or "")


def test_checks_without_groups_are_one_testcase_each() -> None:
    payload = {
        "run_id": "r1",
        "mode": "verify",
        "status": "failed",
        "duration_s": 1.5,
        "verification": {
            "tests": [
                {"nodeid": "team/test_x.py::test_ok", "outcome": "passed", "duration_s": 0.1},
                {
                    "nodeid": "recovery::slo[matchup]",
                    "outcome": "failed",
                    "message": "p95 1200 ms > 300 ms\nmore",
                },
                {"nodeid": "team/test_x.py::test_skip", "outcome": "skipped"},
                {
                    "nodeid": "recovery::health",
                    "outcome": "error",
                    "message": "a hook raised",
                    "groups": [{"name": "response", "outcome": "passed", "reasons": []}],
                },
            ]
        },
    }

    root = ET.fromstring(junit_xml(payload))
    suite = root.find("testsuite")
    assert suite is not None
    counts = tuple(suite.get(k) for k in ("tests", "failures", "errors", "skipped"))
    assert counts == ("5", "1", "1", "1")
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names == ["test_ok", "slo[matchup]", "test_skip", "health", "health::response"]
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("message") == "p95 1200 ms > 300 ms"
