"""The report on disk: always whole, coalesced under bursts, final state always written."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recovery_plugin.redact import Redactor
from recovery_plugin.report.model import StepRecord
from recovery_plugin.report.writer import Report, ReportWriter


def _report(tmp_path: Path) -> Report:
    return Report(
        run_id="20260101T000000Z-abcdef",
        mode="apply",
        api_base="http://127.0.0.1:1",
        output_dir=str(tmp_path),
        run_dir=str(tmp_path),
        started_at="2026-01-01T00:00:00.000+00:00",
    )


def _on_disk(writer: ReportWriter) -> dict[str, object]:
    data: dict[str, object] = json.loads(writer.path.read_text(encoding="utf-8"))
    return data


def test_a_burst_of_writes_is_coalesced_and_the_last_state_lands(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path, Redactor(), min_interval=0.2)
    report = _report(tmp_path)
    for i in range(50):
        report.steps.append(
            StepRecord(name="reprocess", mode="apply", command=[], matchup_id=str(i))
        )
        writer.write(report)
    assert len(_on_disk(writer)["steps"]) == 1  # type: ignore[arg-type]  # the first write went out at once
    deadline = time.monotonic() + 5
    while len(_on_disk(writer)["steps"]) != 50 and time.monotonic() < deadline:  # type: ignore[arg-type]
        time.sleep(0.02)
    assert len(_on_disk(writer)["steps"]) == 50  # type: ignore[arg-type]


def test_finalize_writes_at_once_and_a_late_flush_never_overwrites_it(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path, Redactor(), min_interval=0.2)
    report = _report(tmp_path)
    writer.write(report)
    report.steps.append(StepRecord(name="ingest", mode="apply", command=[], status="success"))
    writer.write(report)  # deferred
    writer.finalize(report, finished_at="2026-01-01T00:00:01.000+00:00", duration_s=1.0)
    assert _on_disk(writer)["status"] == "success"
    time.sleep(0.3)
    final = _on_disk(writer)
    assert final["status"] == "success"
    assert final["finished_at"] == "2026-01-01T00:00:01.000+00:00"
    assert final["ops_checklist"][-1] == "step ingest: success"


def test_secrets_are_masked_in_the_written_report(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path, Redactor(["s3cr3t-token"]))
    report = _report(tmp_path)
    report.steps.append(
        StepRecord(name="ingest", mode="apply", command=["run", "--token", "s3cr3t-token"])
    )
    writer.finalize(report, finished_at="2026-01-01T00:00:01.000+00:00", duration_s=1.0)
    text = writer.path.read_text(encoding="utf-8")
    assert "s3cr3t-token" not in text
    assert '"***"' in text


def test_the_schema_allows_x_extension_fields_only(
    tmp_path: Path,
    report_schema: dict[str, object],
    assert_valid_report: Callable[[dict[str, Any]], None],
) -> None:
    import jsonschema

    writer = ReportWriter(tmp_path, Redactor())
    payload = writer.finalize(
        _report(tmp_path), finished_at="2026-01-01T00:00:01.000+00:00", duration_s=1.0
    )
    assert_valid_report({**payload, "x_ticket": "OPS-1"})
    errors = list(
        jsonschema.Draft202012Validator(report_schema).iter_errors({**payload, "ticket": "OPS-1"})
    )
    assert len(errors) == 1
    assert "'ticket'" in errors[0].message


def test_a_step_record_reads_as_asdict_leaving_out_what_is_none() -> None:
    import dataclasses

    from recovery_plugin.report.model import Attempt, StepRecord

    attempt = Attempt(1, "failed", 3, "2026-12-03T00:00:00Z", 0.5, "steps/x/attempt-1.log", "x")
    full = StepRecord(
        "reprocess", "apply", ["python", "x.py"], status="failed", exit_code=3,
        matchup_id="m-1", attempts=[attempt], tail=["boom"], stopped=[12],
        rollback_of="ingest",
    )  # fmt: skip
    assert full.to_dict() == dataclasses.asdict(full)
    assert list(full.to_dict()) == list(dataclasses.asdict(full))  # the same key order
    assert full.to_dict()["attempts"][0] is not full.attempts[0]  # plain data, not the record
    full.to_dict()["command"].append("changed")
    assert full.command == ["python", "x.py"]  # a copy, as asdict gives

    plain = StepRecord("ingest", "apply", ["ingest"])
    expected = dataclasses.asdict(plain)
    del expected["matchup_id"], expected["rollback_of"]
    assert plain.to_dict() == expected
