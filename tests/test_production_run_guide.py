"""docs/production-run.md: every ``recovery-bundle`` command of its ``norun`` blocks runs here, as
written, with the page's TOML, against the simulated service and loopback webhook receivers.

tests/test_docs.py runs the page's plain ``bash`` blocks. Here: the refused and the mistyped
confirmation against a remote target (section 2); the canary with batches and a ceiling over an
ids file (3) with the rollback and ``finally`` of (4) and both webhooks of (5), one of them
failing; the resume command the checklist gives; ``history`` and the three ``compare`` commands
of (6) on the failed run and its fix.
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT
from recovery_plugin.names import REPORT_NAME
from recovery_plugin.pytest_plugin.fixtures import LAUNCHER_ENV
from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID, MATCHUP_IDS
from recovery_plugin.sim.harness import SimulatedService

GUIDE = ROOT / "docs" / "production-run.md"
OPS_TOKEN = "ops-hook-token-0123456789abcdef"
SELECTORS = {
    "confirm": "--api-base https://polls.example.com",
    "canary": "--canary 2",
    "history": "recovery-bundle history",
    "compare": "recovery-bundle compare",
}
"""Which test runs which ``norun`` command: each command holds exactly one of these."""


def _blocks(info: str) -> list[str]:
    pattern = rf"^```{re.escape(info)}\n(.*?)^```"
    return re.findall(pattern, GUIDE.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)


def _commands(info: str) -> list[str]:
    return [
        line.strip()
        for block in _blocks(info)
        for line in block.splitlines()
        if line.strip().startswith("recovery-bundle ")
    ]


def _norun(selector: str) -> list[str]:
    found = [c for c in _commands("bash norun") if SELECTORS[selector] in c]
    assert found, f"no norun command with {SELECTORS[selector]!r} in {GUIDE.name}"
    return found


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (*LAUNCHER_ENV, "CI", "API_BASE_URL")}
    return {**env, **extra}


def _run(command: str, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``command`` as an operator types it (a ``> file`` redirect writes stdout there)."""
    argv = shlex.split(command)
    target = None
    if ">" in argv:
        at = argv.index(">")
        argv, target = argv[:at], argv[at + 1]
    proc = subprocess.run(
        [sys.executable, "-m", "recovery_plugin", *argv[1:]],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if target is not None:
        (cwd / target).write_text(proc.stdout, encoding="utf-8")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_every_command_of_the_guide_is_run_by_a_test() -> None:
    plain = _commands("bash")
    norun = _commands("bash norun")
    assert plain, "test_docs.py has nothing to run"
    for command in norun:
        matched = [name for name, text in SELECTORS.items() if text in command]
        assert len(matched) == 1, f"run by no test here (or by several): {command}"
    # What else the norun blocks hold is an install, not a recovery-bundle command.
    others = [
        line.strip()
        for block in _blocks("bash norun")
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("recovery-bundle ")
    ]
    assert all(line.startswith(("python3 -m pip install", "export OTEL_")) for line in others)


# --- 2. Confirm before mutating ----------------------------------------------------------------


def _remote_target(tmp_path: Path) -> dict[str, str]:
    """What the built-in profile's preflight wants on a real host (its scripts, its variables):
    the apply then reaches the confirmation."""
    (tmp_path / "ids.txt").write_text(f"{DEFAULT_MATCHUP_ID}\n", encoding="utf-8")
    scripts = tmp_path / "scripts" / "qa"
    scripts.mkdir(parents=True)
    for name in ("run_ingest_with_retry.py", "reprocess_single_matchup.py"):
        (scripts / name).write_text("raise SystemExit('never run: not confirmed')\n")
    return _env(DATABASE_URL="postgresql://db.invalid/polls", INTERNAL_JOB_TOKEN="job-token")


def _on_pty(command: str, answer: str, cwd: Path, env: Mapping[str, str]) -> tuple[int, str, str]:
    master, slave = os.openpty()
    argv = shlex.split(command)
    proc = subprocess.Popen(
        [sys.executable, "-m", "recovery_plugin", *argv[1:]],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=dict(env),
    )
    os.close(slave)
    shown = b""
    try:
        deadline = time.monotonic() + 120
        while b"(anything else stops): " not in shown:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no prompt on the terminal; it showed {shown!r}"
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        os.write(master, answer.encode() + b"\n")
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return proc.returncode, shown.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")


def test_section_2_a_remote_apply_asks_and_refuses_as_written(tmp_path: Path) -> None:
    (command,) = _norun("confirm")
    env = _remote_target(tmp_path)
    mistyped, no_terminal = [block.strip() for block in _blocks("text")[:2]]

    refused = _run(command, tmp_path, env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == no_terminal

    code, shown, stderr = _on_pty(command, "y", tmp_path, env)
    assert code == 2, shown + stderr
    assert "recovery-bundle apply against https://polls.example.com" in shown
    assert "Type 'polls.example.com' to run these steps against it (anything" in shown
    assert stderr.strip().splitlines()[-1] == mistyped
    assert not list((tmp_path / "ops_bundle").glob(f"*/{REPORT_NAME}"))  # nothing was run


def test_section_2_the_confirmed_apply_records_and_shows_who_confirmed(
    recovery_sim: Callable[..., SimulatedService], tmp_path: Path
) -> None:
    sim = recovery_sim()
    sim.write_runbook(tmp_path / "recovery.toml")
    apply, show = [
        c
        for c in _commands("bash")
        if "confirmed.json" in c and c.startswith(("recovery-bundle run", "recovery-bundle show"))
    ]

    assert _run(apply, tmp_path, _env()).returncode == 0
    shown = _run(show, tmp_path, _env())

    assert shown.returncode == 0, shown.stderr
    report = json.loads((tmp_path / "ops_bundle" / "confirmed.json").read_text(encoding="utf-8"))
    assert report["confirmation"]["by"] == "--yes"
    assert f"- confirmed by --yes: user {report['confirmation']['user']} on host" in shown.stdout


# --- 3-6. Canary, rollback, notify, resume, compare ---------------------------------------------


@dataclass
class Receivers:
    """One loopback server: ``/slack`` answers 200, ``/ops`` always 500."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    state = Receivers()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
            )
            code = 200 if self.path == "/slack" else 500
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"no" if code == 500 else b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


_RECORD_ARGS = (
    "import sys, pathlib; pathlib.Path('{log}').open('a').write(' '.join(sys.argv[1:]) + '\\n')"
)


def _stand_in_scripts(cwd: Path) -> None:
    """The real service's restore and cache scripts of section 4, recording their arguments."""
    scripts = cwd / "scripts" / "qa"
    scripts.mkdir(parents=True)
    for name in ("restore_matchup", "clear_cache"):
        log = (cwd / f"{name}.log").as_posix()
        (scripts / f"{name}.py").write_text(_RECORD_ARGS.format(log=log) + "\n", encoding="utf-8")


def _guide_runbook(receivers: Receivers) -> dict[str, Any]:
    """Sections 4 and 5 as written; the second webhook's host is this test's failing receiver,
    and its attempts are not spaced (the retries stay as written)."""
    (rollback,) = [tomllib.loads(b) for b in _blocks("toml") if "on_failure" in b]
    (notify,) = [tomllib.loads(b) for b in _blocks("toml") if "notify.webhooks" in b]
    slack, ops = notify["notify"]["webhooks"]
    assert slack["url"] == "{env:SLACK_WEBHOOK_URL}" and slack["format"] == "slack"
    assert ops["headers"]["Authorization"] == "Bearer {env:OPS_HOOK_TOKEN}"
    ops.update(url=receivers.url("/ops"), backoff=0)
    return {**rollback, "steps": {**rollback["steps"]}, **notify}


def _reports(output_dir: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in output_dir.glob(f"*/{REPORT_NAME}"):
        report = json.loads(path.read_text(encoding="utf-8"))
        found[report["run_id"]] = report
    return found


def test_sections_3_to_6_canary_rollback_notify_resume_compare(
    recovery_sim: Callable[..., SimulatedService], receivers: Receivers, tmp_path: Path
) -> None:
    ids = list(MATCHUP_IDS[:6])
    bad = ids[1]  # in the canary [0, 1]; then batches of 20% of 6 (2 ids): [2, 3], [4, 5]
    sim = recovery_sim(faults={"reprocess": {"fail_ids": [bad]}})
    overrides = _guide_runbook(receivers)
    overrides["steps"]["reprocess"] = {**overrides["steps"]["reprocess"], "backoff": 0.01}
    sim.write_runbook(tmp_path / "recovery.toml", **overrides)
    (tmp_path / "ids.txt").write_text("".join(f"{m}\n" for m in ids), encoding="utf-8")
    _stand_in_scripts(tmp_path)
    env = _env(SLACK_WEBHOOK_URL=receivers.url("/slack"), OPS_HOOK_TOKEN=OPS_TOKEN)

    (command,) = _norun("canary")
    applied = _run(command, tmp_path, env)

    # 3. The canary failed (a step of it did): no other batch started.
    assert applied.returncode == 1, applied.stdout + applied.stderr  # not changed by the 500s
    (report,) = _reports(tmp_path / "ops_bundle").values()
    batches = report["batches"]
    assert [(b["ids"], b["verdict"]) for b in batches["items"]] == [
        (ids[0:2], "failed"),
        (ids[2:4], "skipped"),
        (ids[4:6], "skipped"),
    ]
    assert batches["stopped_after"] == 1 and batches["ids_left"] == ids[2:6]
    summary = applied.stdout
    assert "  Batches (--canary 2 --batch-size 20% --max-failures 3)" in summary
    assert "stopped after batch 1: canary batch 1 failed (1 reprocess step(s) failed)" in summary
    assert f"4 id(s) left to do: {', '.join(ids[2:6])}" in summary
    (shown,) = [b for b in _blocks("text") if "Batches (" in b]
    *lines, ids_line = shown.rstrip("\n").splitlines()
    assert all(line in summary.splitlines() for line in lines), summary  # as the page shows
    assert ids_line.removesuffix(", ...") in summary
    # 4. The failed id was rolled back with its own id; the clean-up ran once, at the end.
    steps = {(s["name"], s.get("matchup_id")): s for s in report["steps"]}
    assert steps[("rollback", bad)]["status"] == "success"
    assert (tmp_path / "restore_matchup.log").read_text() == f"--matchup-id {bad}\n"
    assert steps[("finally", None)]["status"] == "success"
    assert (tmp_path / "clear_cache.log").read_text() == "\n"
    assert f"rolled back reprocess [{bad}]: succeeded" in "\n".join(report["ops_checklist"])
    # 5. Both webhooks were posted; the failing one is recorded, with every attempt.
    slack, ops = report["notifications"]
    assert (slack["delivered"], slack["http_status"]) == (True, 200)
    assert (ops["delivered"], ops["http_status"], ops["attempts"]) == (False, 500, 3)
    assert set(receivers.to("/slack")[0]["body"]) == {"text"}
    posted = receivers.to("/ops")
    assert len(posted) == 3
    assert posted[0]["headers"]["Authorization"] == f"Bearer {OPS_TOKEN}"
    (documented,) = [json.loads(b) for b in _blocks("json")]
    assert set(posted[0]["body"]) == set(documented)  # the payload the page shows
    assert posted[0]["body"]["status"] == "failed"
    assert OPS_TOKEN not in json.dumps(report) and OPS_TOKEN not in summary
    assert (
        "not delivered after 3 attempt(s)"
        in _run(f"recovery-bundle show {report['run_dir']}", tmp_path, env).stdout
    )

    # The checklist's resume command, once the cause is fixed, finishes the run.
    (resume,) = [g for g in report["ops_checklist"] if g.startswith("resume-guide:")]
    resume_command = resume.split("resume with: ", 1)[1]
    assert resume_command.startswith(f"recovery-bundle run --resume {report['run_dir']}")
    sim.set_faults(None)
    resumed = _run(resume_command, tmp_path, env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    runs = _reports(tmp_path / "ops_bundle")
    (new_id,) = [run_id for run_id in runs if run_id != report["run_id"]]
    assert runs[new_id]["status"] == "success"

    # 6. history and compare, with the two run ids in place of the page's placeholders.
    ran = {}
    for template in [*_norun("history"), *_norun("compare")]:
        command = template.replace("<failed run_id>", report["run_id"])
        command = command.replace("<new run_id>", new_id)
        proc = _run(command, tmp_path, env)
        assert proc.returncode == 0, f"{command}\n{proc.stdout}{proc.stderr}"
        ran[template] = proc.stdout
    history, text, _markdown_to_file, as_json = ran.values()
    assert report["run_id"] in history and new_id in history
    change = f"reprocess [{bad}]: failed (exit 1) -> success (exit 0)"
    assert change in text
    row = f"| reprocess [{bad.replace('|', chr(92) + '|')}] | failed (exit 1) | success (exit 0) |"
    assert row in (tmp_path / "incident-compare.md").read_text(encoding="utf-8")
    assert json.loads(as_json)["changed"] is True
