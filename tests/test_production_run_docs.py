"""docs/runbook.md "Production run": its commands, with its TOML, do what the section says.

tests/test_docs.py runs the section's commands against a plain simulated service (they must
pass); here they run again with the section's ``on_failure`` / ``[steps.finally]`` merged into the
runbook and one id made to fail, and the report must show the rollback and the stop it describes.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recovery_plugin.names import REPORT_NAME
from recovery_plugin.sim.harness import SimulatedService

RUNBOOK = Path(__file__).resolve().parents[1] / "docs" / "runbook.md"
SECTION = "## 7. Production run"


def _section() -> str:
    text = RUNBOOK.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end != -1 else len(text)]


def _block(kind: str) -> str:
    (block,) = re.findall(rf"^```{kind}\n(.*?)^```", _section(), re.MULTILINE | re.DOTALL)
    return str(block)


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recovery_plugin", *argv[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_production_run_section_rolls_back_and_stops_as_it_says(
    recovery_sim: Callable[..., SimulatedService], tmp_path: Path
) -> None:
    dry_run, apply = [shlex.split(line) for line in _block("bash").splitlines() if line.strip()]
    assert "--canary" in apply and "--max-failures" in apply
    canary_id = apply[apply.index("--matchup-id") + 1]
    sim = recovery_sim(faults={"reprocess": {"fail_ids": [canary_id]}})
    overrides: dict[str, Any] = tomllib.loads(_block("toml"))
    sim.write_runbook(tmp_path / "recovery.toml", **overrides)

    planned = _run(dry_run, tmp_path)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    applied = _run(apply, tmp_path)
    assert applied.returncode == 1, applied.stdout + applied.stderr

    reports = {
        path: json.loads(path.read_text(encoding="utf-8"))
        for path in (tmp_path / "ops_bundle").glob(f"*/{REPORT_NAME}")
    }
    ((report_path, report),) = [(p, r) for p, r in reports.items() if r["mode"] == "apply"]
    steps = {(s["name"], s.get("matchup_id")): s for s in report["steps"]}
    assert steps[("rollback", canary_id)]["status"] == "success"
    assert (report_path.parent / "rolled-back.txt").read_text() == f"{canary_id}\n"
    assert steps[("finally", None)]["status"] == "success"
    assert (report_path.parent / "finally.txt").read_text() == "cleaned up\n"
    batches = report["batches"]
    assert batches["items"][0]["verdict"] == "failed"
    assert batches["stopped_after"] == 1 and len(batches["ids_left"]) == 2
    assert any(line.startswith("resume-guide:") for line in report["ops_checklist"])
