"""A verify where thousands of checks fail: it completes, and every reason reaches the report,
the JUnit XML and a CI log (speed and memory are measured in benchmarks/, not here)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.http.capture_file import read_captures

FAILING = 5000


def test_five_thousand_failing_checks_complete_with_every_reason(
    recovery_sim: RecoverySim, run_bundle: RunBundle, tmp_path: Path
) -> None:
    sim = recovery_sim()
    sim.seed()
    ids = [f"20260603|기초자치단체장|missing-{n:05d}" for n in range(FAILING)]
    ids_file = tmp_path / "ids.json"
    ids_file.write_text(json.dumps(ids, ensure_ascii=False), encoding="utf-8")
    junit = tmp_path / "junit.xml"

    result = run_bundle(
        "verify",
        "--api-base",
        sim.base_url,
        "--matchup-file",
        str(ids_file),
        "--junit-xml",
        str(junit),
        timeout=600,  # a guard for a loaded machine, not a speed assertion
    )

    assert result.exit_code == 1, result.output
    verification = result.report["verification"]
    assert verification["summary"]["failed"] == FAILING
    assert verification["summary"]["total"] == FAILING + 2
    failed = [t for t in verification["tests"] if t["outcome"] == "failed"]
    assert {t["matchup_id"] for t in failed} == set(ids)
    assert all("404" in (t["message"] or "") for t in failed)
    assert verification["concurrency"]["strategy"] == "adaptive"

    # The capture file was streamed as captures arrived (and each dropped from memory once
    # judged): it still holds every capture, whole.
    captures = read_captures(Path(result.report["run_dir"]) / "api_capture.json")
    assert len(captures) == FAILING + 2
    assert {c["matchup_id"] for c in captures if c["matchup_id"]} == set(ids)

    cases = ET.parse(junit).getroot().iter("testcase")
    failures = [case for case in cases if case.find("failure") is not None]
    assert len(failures) == FAILING

    # A CI log (not a terminal) shows the checks moving, with how many failed so far, and not
    # one line per check.
    counts = [line for line in result.output.splitlines() if line.startswith("[capture] ")]
    halfway = [
        m
        for line in counts
        if (m := re.fullmatch(r"\[capture\] (\d+)/5002 \(50%\), (\d+) failed", line))
    ]
    assert halfway, result.output[-2000:]
    done, failing = (int(n) for n in halfway[0].groups())
    assert done - 2 <= failing <= done
    assert len(counts) < 30
