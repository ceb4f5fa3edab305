"""One finisher: ``recovery-bundle verify`` and the plain ``pytest --recovery-base-url`` gate
leave the same report for the same service, apart from run id, paths and timing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from recovery_plugin import RecoverySim, RunBundle
from recovery_plugin.pytest_plugin.fixtures import LAUNCHER_ENV
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID

TIMING_KEYS = {
    "started_at",
    "finished_at",
    "generated_at",
    "duration_s",
    "elapsed_ms",
    "elapsed_s",
    "at",
}


def _comparable(report: dict[str, Any]) -> Any:
    """The report with what differs between any two runs (ids, paths, timings) taken out."""
    text = json.dumps(report, ensure_ascii=False)
    text = text.replace(report["run_dir"], "<run_dir>").replace(report["output_dir"], "<out>")
    text = text.replace(report["run_id"], "<run_id>")
    text = re.sub(r"\((\d+\.)?\d+s\)", "(<duration>)", text)  # "step capture: failed (0.4s)"

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items() if k not in TIMING_KEYS}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value

    data = scrub(json.loads(text))
    for step in data["steps"]:
        step["log_path"] = None  # the launcher's session keeps a log; a plain session has none
    return data


@pytest.fixture(params=["healthy", "summary down"])
def service(request: pytest.FixtureRequest, recovery_sim: RecoverySim) -> Any:
    faults = (
        {"endpoints": {"summary": {"status": 503}}} if request.param == "summary down" else None
    )
    sim = recovery_sim(faults=faults)
    sim.seed()
    return sim


def test_verify_and_the_plain_gate_write_the_same_report(
    service: Any,
    run_bundle: RunBundle,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name in LAUNCHER_ENV:
        monkeypatch.delenv(name, raising=False)
    launched = run_bundle(
        "verify", "--config", str(service.config_path), "--matchup-id", DEFAULT_MATCHUP_ID
    )
    assert launched.report, launched.output

    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PYTEST_PLUGINS", "recovery_plugin.plugin,pytest_jsonreport.plugin")
    gate_dir = tmp_path / "gate"
    result = pytester.runpytest_subprocess(
        "--recovery-base-url",
        service.base_url,
        "--recovery-config",
        str(service.config_path),
        "--recovery-matchup-id",
        DEFAULT_MATCHUP_ID,
        "--recovery-output-dir",
        str(gate_dir),
        timeout=120,
    )
    (gate_report_path,) = gate_dir.glob("*/recovery_bundle_report.json")
    gate = json.loads(gate_report_path.read_text(encoding="utf-8"))
    assert result.ret == launched.exit_code

    ours, theirs = _comparable(launched.report), _comparable(gate)
    for key in sorted(set(ours) | set(theirs)):
        assert ours.get(key) == theirs.get(key), key
    assert ours["status"] == ("success" if launched.exit_code == 0 else "failed")
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", gate["run_id"])
