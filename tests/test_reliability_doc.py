"""Every fault of issue 9 ("When things go wrong") has a row in docs/reliability.md that names
it and the tests that prove it, and every test a row names exists.

``tests/test_reliability_docs.py`` checks the tables against the fault modules and the exit
codes; this module checks them against the issue's list, bullet by bullet.
"""

from __future__ import annotations

import ast
import re
from functools import cache

import pytest

from conftest import ROOT

RELIABILITY = ROOT / "docs" / "reliability.md"
_NODE_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[[^\]`]+\])?`")

# Each bullet of issue 9, and words that the row describing its fault starts with.
ISSUE_BULLETS = {
    "a setsid child holding the output past the timeout": "a step's child calls `setsid`",
    "a server dripping 1 byte/s: a whole-request deadline": "a server that drips one byte",
    "a matchup file that is a device or a FIFO": "a `--matchup-file` that is a FIFO",
    "a full disk: step log, capture, report": "a full disk: under a step's log",
    "masking must not break a healthy check": "a secret-named variable (`MY_API_KEY`)",
    "a value too short or too common to mask": "a secret-named variable whose value is too short",
    "secret shapes: PEM, JSON-escaped, Basic, headers": "a secret in another shape",
    "secrets set in a step's own env table": "a secret set only in a step's own `env` table",
    "every place the tool writes is redacted": "secrets: a step printing `INTERNAL_JOB_TOKEN`",
    "the step summary and HTML/Markdown views": "a secret in a failed step's last output lines",
    "stale-lock takeover racing": "many applies racing for one output directory",
    "a SIGKILLed holder's step still running": "an apply SIGKILLed while its step runs",
    "a SIGKILLed holder's rollback or finally running": "an apply SIGKILLed while a rollback",
    "--resume stays in its output directory, takes the lock": "`--resume RUN_DIR` of a run",
    "--resume of an edited report": "`--resume` of an edited report",
    "a 10,000-character id, a URL the client rejects": "one id among good ones",
    "a non-UTF-8 id": "a matchup id that is not UTF-8 text",
    "wrong output paths rejected before anything runs": "`--junit-xml` (or `--report`) under",
    "a closed stdout never aborts a mutating run": "stdout closed under a mutating run",
    "two ids sanitising to one step directory": "two ids whose file-safe forms are alike",
    "durations from the monotonic clock": "the wall clock stepped back or forward",
    "leftover *.tmp files cleaned up": "an atomic write killed mid-way",
    "step log size bounded, the short tail": "a step that prints without end",
    "decompressed body size and memory under gzip bombs": "a gzip bomb",
    "the body size and memory under a huge body": "a 200 MB body",
    "a guide for the failed step's cause, en and ko": "a failed step whose cause is known",
    "the re-apply command lists every id still to do": "a reprocess step fails, times out",
    "thousands of ids; the canary's batching flags kept": "thousands of ids left to do",
    "preflight is a gate": "a step that will run lacks what it needs",
    "error messages name the real cause: DNS": "a host name that does not resolve",
    "error messages name the real cause: TLS": "an `https` URL against a plain-HTTP",
    "error messages name the real cause: reset": "a server that accepts, reads the request",
    "show and history for a failed run": "reading a failed run",
    "ids with control characters escaped": "ids with terminal controls",
    "an empty id list, or every step skipped": "no matchup id given, or every step skipped",
}


@cache
def _rows() -> list[str]:
    return [
        line
        for line in RELIABILITY.read_text(encoding="utf-8").splitlines()
        if line.startswith("| ") and not line.startswith(("| ---", "| fault", "| code"))
    ]


@cache
def _functions(relative: str) -> frozenset[str]:
    tree = ast.parse((ROOT / relative).read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    )


def _proving_tests(row: str) -> list[tuple[str, str]]:
    return _NODE_ID.findall(row.rstrip(" |").rsplit(" | ", 1)[-1])


@pytest.mark.parametrize("bullet", sorted(ISSUE_BULLETS))
def test_each_issue_bullet_has_a_row_naming_the_tests_that_prove_it(bullet: str) -> None:
    start = ISSUE_BULLETS[bullet]
    rows = [row for row in _rows() if row.startswith(f"| {start}")]
    assert len(rows) == 1, f"{bullet}: no single row starting {start!r} in docs/reliability.md"
    tests = _proving_tests(rows[0])
    assert tests, f"{bullet}: its row names no test"
    for path, name in tests:
        assert (ROOT / path).is_file(), f"{bullet}: {path} does not exist"
        assert name in _functions(path), f"{bullet}: {path}::{name} is not defined"


def test_every_row_names_tests_that_exist() -> None:
    """Every row of every table, not only the issue's: a row proved by nothing is a claim."""
    unproved = []
    for row in _rows():
        tests = _proving_tests(row)
        if not tests and not row.rstrip(" |").endswith("| same"):
            unproved.append(row[:80])
        for path, name in tests:
            assert (ROOT / path).is_file(), path
            assert name in _functions(path), f"{path}::{name} is named but not defined"
    assert not unproved, unproved
