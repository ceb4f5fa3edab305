"""JUnit XML of a run's verification, written from the finished (masked) report.

One ``<testcase>`` per assertion group of each check, named ``<check>::<group>`` with the
check's node id as its class name, so a CI test view shows which expectation failed (``status``
passed, ``assert`` failed: ``$.has_data == true``...). A check with no groups (an SLO item, a
user's own test from ``--checks-dir``, a check that could not be judged) is one testcase. Every
string comes from the report, which is masked; the XML is masked again as a whole.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recovery_plugin.atomic import write_text_atomic
from recovery_plugin.redact import Redactor

__all__ = ["junit_xml", "mask_junit_file", "write_junit"]

_FAILED = ("failed", "error")


def write_junit(payload: Mapping[str, Any], path: Path, redactor: Redactor) -> None:
    """Write ``payload``'s verification as JUnit XML to ``path``, atomically."""
    write_text_atomic(path, redactor.text(junit_xml(payload)))


def junit_xml(payload: Mapping[str, Any]) -> str:
    verification = payload.get("verification") or {}
    suite = ET.Element(
        "testsuite", name="recovery-bundle", timestamp=str(payload.get("started_at"))
    )
    properties = ET.SubElement(suite, "properties")
    for name in ("run_id", "mode", "status", "api_base"):
        ET.SubElement(properties, "property", name=name, value=str(payload.get(name)))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for test in verification.get("tests", []):
        for case in _cases(test):
            suite.append(case)
            counts["tests"] += 1
            for kind, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
                if case.find(kind) is not None:
                    counts[key] += 1
    for key, count in counts.items():
        suite.set(key, str(count))
    suite.set("time", f"{float(payload.get('duration_s') or 0.0):.3f}")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _cases(test: Mapping[str, Any]) -> list[ET.Element]:
    nodeid = str(test.get("nodeid"))
    check = nodeid.rsplit("::", 1)[-1]
    seconds = f"{float(test.get('duration_s') or 0.0):.3f}"
    outcome = str(test.get("outcome"))
    groups = test.get("groups") or []
    cases = []
    if not groups or (outcome in _FAILED and not any(g.get("outcome") == "failed" for g in groups)):
        # No groups, or the check failed beyond them (an error, a user's hook): the check itself.
        case = ET.Element("testcase", classname=nodeid, name=check, time=seconds)
        _outcome(case, outcome, str(test.get("message") or ""))
        cases.append(case)
    for group in groups:
        case = ET.Element(
            "testcase", classname=nodeid, name=f"{check}::{group['name']}", time=seconds
        )
        reasons = list(group.get("reasons") or [])
        if group.get("outcome") == "failed":
            _outcome(case, "failed", "\n".join(reasons))
        cases.append(case)
    return cases


def _outcome(case: ET.Element, outcome: str, message: str) -> None:
    first = message.strip().splitlines()[0] if message.strip() else outcome
    if outcome in _FAILED:
        kind = "failure" if outcome == "failed" else "error"
        ET.SubElement(case, kind, message=first[:500]).text = message
    elif outcome == "skipped":
        ET.SubElement(case, "skipped", message=first[:500])


def mask_junit_file(path: Path, redactor: Redactor) -> None:
    """Mask every text and attribute of a JUnit file written by someone else (pytest's own).

    Parsed, not masked as raw text: a secret XML-escaped in the file (``&amp;``) is masked too.
    A missing or unreadable file is left alone (pytest has already said why).
    """
    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError):
        return
    for element in tree.iter():
        if element.text:
            element.text = redactor.text(element.text)
        if element.tail:
            element.tail = redactor.text(element.tail)
        for name, value in element.attrib.items():
            element.set(name, redactor.text(value))
    text = ET.tostring(tree.getroot(), encoding="unicode", xml_declaration=True)
    write_text_atomic(path, text + "\n")
