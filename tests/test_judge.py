"""The session's judge: the baseline it compares with, and the effect checks against it."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

from recovery_plugin.config import CaptureSpec, EndpointSpec
from recovery_plugin.http.capture import Capture, Target
from recovery_plugin.http.checks import CheckContext, evaluate
from recovery_plugin.http.expectations import expectations_of
from recovery_plugin.http.openapi_doc import FetchedDocument
from recovery_plugin.names import BEFORE_CAPTURE_NAME, CAPTURE_NAME
from recovery_plugin.pytest_plugin.judge import CheckJudge
from recovery_plugin.redact import Redactor

TARGET = Target("summary", "/s")


def _capture_file(path: Path, body: object) -> Path:
    capture = {"name": "summary", "matchup_id": None, "status": 200, "body": body}
    path.write_text(json.dumps({"api_base": "x", "captures": [capture]}), encoding="utf-8")
    return path


def _judge(**spec: object) -> CheckJudge:
    run = SimpleNamespace(
        base_url="http://127.0.0.1:1",
        capture=CaptureSpec(),
        redactor=Redactor(()),
        capture_path=None,
        baseline_path=None,
        reprocessed=None,
        cancel=threading.Event(),
    )
    vars(run).update(spec)
    return CheckJudge(run, lambda target: Capture(name="summary", url="u", path="/s"))


def test_an_explicit_baseline_wins_over_the_runs_before_capture(tmp_path: Path) -> None:
    _capture_file(tmp_path / BEFORE_CAPTURE_NAME, {"as_of": "before"})
    earlier = _capture_file(tmp_path / "earlier.json", {"as_of": "earlier"})
    judge = _judge(capture_path=tmp_path / CAPTURE_NAME, baseline_path=earlier)
    assert judge.baseline(TARGET) == {
        "name": "summary",
        "matchup_id": None,
        "status": 200,
        "body": {"as_of": "earlier"},
    }


def test_the_before_capture_is_the_baseline_and_the_sign_of_a_reprocess(tmp_path: Path) -> None:
    _capture_file(tmp_path / BEFORE_CAPTURE_NAME, {"as_of": "before"})
    judge = _judge(capture_path=tmp_path / CAPTURE_NAME)
    assert (judge.baseline(TARGET) or {})["body"] == {"as_of": "before"}
    assert judge._reprocessed_here
    assert not _judge(capture_path=tmp_path / "elsewhere" / CAPTURE_NAME)._reprocessed_here


def test_effect_reasons_against_a_baseline() -> None:
    spec = EndpointSpec(name="summary", path="/s", expect_changed=["$.as_of"])
    capture = Capture(name="summary", url="u", path="/s", status=200, body={"as_of": "same"})
    baseline = {"body": {"as_of": "same"}}
    context = CheckContext(expectations=expectations_of(spec), baseline=baseline)
    assert evaluate(spec, capture, context) == [
        'GET /s: expect_changed $.as_of: $.as_of is unchanged since the baseline: still "same"'
    ]
    moved = Capture(name="summary", url="u", path="/s", status=200, body={"as_of": "new"})
    assert (
        evaluate(spec, moved, CheckContext(expectations=expectations_of(spec), baseline=baseline))
        == []
    )


def test_the_contract_document_the_capture_fetched_is_used_not_fetched_again() -> None:
    document = {"openapi": "3.1.0", "paths": {"/s": {}}}
    answers = {
        "http://127.0.0.1:1/openapi.json": FetchedDocument(200, json.dumps(document).encode()),
        "http://127.0.0.1:1/gone.json": FetchedDocument(404),
    }
    asked: list[str] = []

    def fetched(url: str) -> FetchedDocument | None:
        asked.append(url)
        return answers.get(url)

    run = SimpleNamespace(
        base_url="http://127.0.0.1:1", capture=CaptureSpec(timeout=0.5), redactor=Redactor(())
    )
    judge = CheckJudge(run, lambda target: Capture(name="s", url="u", path="/s"), None, fetched)

    loaded = judge.openapi("{api_base}/openapi.json")
    assert loaded.document is not None and loaded.problem is None  # nothing listens on port 1
    assert judge.openapi("{api_base}/gone.json").missing
    # One the capture did not fetch is fetched here: port 1 refuses, and the load says so.
    other = judge.openapi("{api_base}/other.json")
    assert other.problem is not None and other.problem.startswith("cannot fetch")
    judge.openapi("{api_base}/openapi.json")  # loaded once
    assert asked == [*answers, "http://127.0.0.1:1/other.json"]
