"""The commands in README.md and docs/*.md run, against the simulated service, as written.

Every line that starts with ``recovery-bundle`` inside a ```bash block is run (argv split with
shlex, never a shell) in a directory whose ``recovery.toml`` points at a fresh simulated service.
A block whose info string is ``bash norun`` is not run: it needs a real service, or an install.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import ROOT
from recovery_plugin.sim.harness import SimulatedService

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)


def commands(path: Path) -> list[str]:
    found = []
    for block in _BLOCK.findall(path.read_text(encoding="utf-8")):
        text = block.replace("\\\n", " ")
        found += [
            line.strip()
            for line in text.splitlines()
            if line.strip().startswith("recovery-bundle ")
        ]
    return found


def test_the_docs_have_runnable_examples() -> None:
    assert len(commands(ROOT / "docs" / "runbook.md")) >= 5
    assert "recovery-bundle demo" in commands(ROOT / "README.md")


@pytest.mark.parametrize("doc", [d for d in DOCS if commands(d)], ids=lambda d: d.name)
def test_doc_commands_run(
    doc: Path, recovery_sim: Callable[..., SimulatedService], tmp_path: Path
) -> None:
    sim = recovery_sim(capture={"readiness_deadline": 5.0})
    sim.write_runbook(tmp_path / "recovery.toml", capture={"readiness_deadline": 5.0})
    env = {k: v for k, v in os.environ.items() if k not in ("API_BASE_URL", "RECOVERY_CONFIG")}
    for command in commands(doc):
        argv = shlex.split(command, comments=True)
        proc = subprocess.run(
            [sys.executable, "-m", "recovery_plugin", *argv[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, f"{doc.name}: {command}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
