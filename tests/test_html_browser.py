"""The HTML view of a run, rendered by a real headless browser (Chromium from Debian's packages).

``.ci/run`` installs Chromium, so in CI (``CI`` set) a missing browser is a failure; on a
developer machine without it the test is skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from recovery_plugin import BundleResult
from recovery_plugin.cli import cli

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is not installed; .ci/run installs it (apt-get install chromium)")
    pytest.skip(
        "Chromium is not installed (apt-get install chromium); CI installs it and runs this test"
    )


def test_html_report_renders_in_headless_chromium(
    run_bundle: Callable[..., BundleResult], recovery_sim: Callable[..., object], tmp_path: Path
) -> None:
    browser = _chromium()
    sim = recovery_sim(faults={"endpoints": {"summary": {"status": 500}}})
    result = run_bundle(
        "run",
        "--mode",
        "apply",
        "--config",
        str(sim.config_path),
        "--matchup-id",
        "20260603|광역자치단체장|11-000",
    )
    assert result.exit_code == 1
    page = tmp_path / "run.html"
    shown = CliRunner().invoke(
        cli, ["show", str(result.run_dir), "--format", "html", "-o", str(page)]
    )
    assert shown.exit_code == 0, shown.output
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert '<h1 id="status">recovery-bundle apply: failed</h1>' in html
    assert html.count('<div class="row">') == 3  # ingest, reprocess, capture: one bar per attempt
    assert "status mismatch: expected 200, got 500" in html
    assert "rollback-guide: capture" in html
    assert "서울시장" in html  # the captured matchup body, Hangul intact
    shot = tmp_path / "run.png"
    subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1200,900",
         page.as_uri()],
        capture_output=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
