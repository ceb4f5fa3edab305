"""A polled check's capture file entry is its last attempt: the evidence shows the state the
check passed (or failed) on, not the first answer it polled past."""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path

from recovery_plugin.http.capture_file import read_captures
from recovery_plugin.pytest_plugin.fixtures import RecoverySim, RunBundle
from recovery_plugin.render.views import render_html
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID
from recovery_plugin.sim.harness import SimulatedService

POLLED = (
    '[[endpoints]]\nname = "matchup"\npath = "/api/v1/matchups/{matchup_id}"\n'
    "poll = { deadline = 60, interval = 0.2, max_interval = 0.5 }\n"
)


def _seed_after_the_first_404(sim: SimulatedService, stop: threading.Event) -> None:
    """Ingest the data once the check has seen its matchup missing (the access log says so)."""
    while not stop.is_set():
        log = sim.access_log_path
        if log.is_file() and any(
            "/api/v1/matchups/" in line and '" 404 ' in line
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        ):
            sim.seed()
            return
        time.sleep(0.05)


def _last_matchup_capture(run_dir: Path) -> dict[str, object]:
    captures = [c for c in read_captures(run_dir / "api_capture.json") if c["name"] == "matchup"]
    assert captures
    return captures[-1]  # readers keep the last capture of a check


def test_a_check_passing_on_a_later_attempt_leaves_that_capture(
    recovery_sim: RecoverySim, run_bundle: RunBundle, tmp_path: Path
) -> None:
    sim = recovery_sim()  # not seeded yet: the matchup answers 404
    config = tmp_path / "recovery.toml"
    config.write_text(POLLED, encoding="utf-8")
    stop = threading.Event()
    seeder = threading.Thread(target=_seed_after_the_first_404, args=(sim, stop), daemon=True)
    seeder.start()
    try:
        result = run_bundle(
            "verify",
            "--config",
            str(config),
            "--api-base",
            sim.base_url,
            "--matchup-id",
            DEFAULT_MATCHUP_ID,
        )
    finally:
        stop.set()
        seeder.join(timeout=30)

    assert result.exit_code == 0, result.output
    (check,) = result.checks()
    attempts = check["poll"]["attempts"]
    assert attempts[0]["status"] == 404 and attempts[-1]["status"] == 200
    assert result.run_dir is not None
    last = _last_matchup_capture(result.run_dir)
    assert last["status"] == 200
    assert isinstance(last["body"], dict) and last["body"]["matchup_id"] == DEFAULT_MATCHUP_ID
    # QA's fixture and the operator's page name the judged capture, not the first attempt's.
    assert result.capture("matchup", DEFAULT_MATCHUP_ID)["status"] == 200
    page = render_html(result.report, result.run_dir)
    assert page.count("<summary>matchup ") == 1
    assert f"<summary>matchup {html.escape(DEFAULT_MATCHUP_ID)} — 200 in" in page


def test_a_check_failing_at_the_deadline_leaves_its_last_attempt(
    recovery_sim: RecoverySim, run_bundle: RunBundle, tmp_path: Path
) -> None:
    sim = recovery_sim(faults={"endpoints": {"matchup": {"status": 503}}})
    sim.seed()
    config = tmp_path / "recovery.toml"
    config.write_text(POLLED.replace("deadline = 60", "deadline = 0.6"), encoding="utf-8")

    result = run_bundle(
        "verify",
        "--config",
        str(config),
        "--api-base",
        sim.base_url,
        "--matchup-id",
        DEFAULT_MATCHUP_ID,
    )

    assert result.exit_code == 1, result.output
    (check,) = result.checks()
    assert len(check["poll"]["attempts"]) >= 2
    assert result.run_dir is not None
    captures = [
        c for c in read_captures(result.run_dir / "api_capture.json") if c["name"] == "matchup"
    ]
    assert len(captures) >= 1 and captures[-1]["status"] == 503
