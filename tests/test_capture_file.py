"""The capture file: written atomically one capture a line, read back by the views and the evidence."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from recovery_plugin.http.batch import Readiness
from recovery_plugin.http.capture import Capture
from recovery_plugin.http.capture_file import CaptureFileStream, read_captures, write_capture_file
from recovery_plugin.redact import MASK, Redactor

KOREAN_ID = "2026-서울시장|여론조사/A"


def _capture(name: str, matchup_id: str | None = None, body: object = None) -> Capture:
    return Capture(
        name=name, url=f"http://127.0.0.1:1/{name}", path=f"/{name}", matchup_id=matchup_id,
        status=200, body=body,
    )  # fmt: skip


def test_what_is_written_reads_back_in_order_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "api_capture.json"
    captures = [_capture("health", body={"status": "ok"}), _capture("matchup", KOREAN_ID, "텍스트")]
    readiness = Readiness(ready=True, url="http://127.0.0.1:1/health", deadline_s=5.0)

    write_capture_file(path, "http://127.0.0.1:1", captures, readiness)

    assert read_captures(path) == [c.to_dict() for c in captures]
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["api_base"] == "http://127.0.0.1:1"
    assert data["readiness"]["ready"] is True
    assert KOREAN_ID in path.read_text(encoding="utf-8")  # not \\u-escaped: greppable
    assert len(path.read_text(encoding="utf-8").splitlines()) == 4  # head, 2 captures, end
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_a_file_without_readiness_says_so(tmp_path: Path) -> None:
    path = tmp_path / "api_capture.json"

    write_capture_file(path, "http://127.0.0.1:1", [])

    assert json.loads(path.read_text(encoding="utf-8")) == {
        "api_base": "http://127.0.0.1:1",
        "readiness": None,
        "captures": [],
    }
    assert read_captures(path) == []


def test_a_missing_corrupt_or_foreign_file_reads_as_no_captures(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"captures": [', encoding="utf-8")
    foreign = tmp_path / "foreign.json"
    foreign.write_text('["not", "a", "capture file"]', encoding="utf-8")
    odd = tmp_path / "odd.json"
    odd.write_text('{"captures": [{"name": "health"}, 3, null]}', encoding="utf-8")

    assert read_captures(tmp_path / "missing.json") == []
    assert read_captures(corrupt) == []
    assert read_captures(foreign) == []
    assert read_captures(odd) == [{"name": "health"}]


def test_a_streamed_file_is_written_as_captures_arrive_and_put_in_place_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "api_capture.json"
    path.write_text("old", encoding="utf-8")
    readiness = Readiness(ready=True, url="http://127.0.0.1:1/health", deadline_s=5.0)
    first, second = _capture("health", body={"status": "ok"}), _capture("m", KOREAN_ID, "본문")
    stream = CaptureFileStream(path, "http://127.0.0.1:1")
    stream.begin(readiness)
    stream.add(first)
    (temporary,) = tmp_path.glob(".api_capture.json.*.tmp")
    stream._file.flush()
    assert "health" in temporary.read_text(encoding="utf-8")  # on disk before the end
    assert path.read_text(encoding="utf-8") == "old"  # readers see the old file meanwhile

    stream.finish([second])

    assert read_captures(path) == [first.to_dict(), second.to_dict()]
    written = tmp_path / "whole.json"
    write_capture_file(written, "http://127.0.0.1:1", [first, second], readiness)
    assert path.read_text(encoding="utf-8") == written.read_text(encoding="utf-8")  # same format
    assert not list(tmp_path.glob(".*"))
    assert stream.keys == {("health", None), ("m", KOREAN_ID)}


def test_an_abandoned_stream_leaves_nothing_behind(tmp_path: Path) -> None:
    stream = CaptureFileStream(tmp_path / "api_capture.json", "http://127.0.0.1:1")
    stream.add(_capture("health"))
    stream.abandon()
    stream.add(_capture("late"))  # a capture arriving after the session ended is dropped

    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_under_a_stream_is_raised_at_finish_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "api_capture.json"
    stream = CaptureFileStream(path, "http://127.0.0.1:1")
    stream._file.close()
    stream._file = Path("/dev/full").open("w", encoding="utf-8", buffering=1)  # noqa: SIM115
    stream.add(_capture("health", body={"status": "ok"}))  # a capture thread: never raises
    stream.add(_capture("summary"))

    with pytest.raises(OSError) as raised:
        stream.finish()

    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename == str(path)
    assert not path.exists()
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary is removed


def _decoded(name: str, text: str, redactor: Redactor | None = None) -> Capture:
    """A capture as the fetch leaves it: the body decoded, and the text it came as."""
    return Capture(
        name=name, url=f"http://127.0.0.1:1/{name}", path=f"/{name}", status=200,
        body=json.loads(text), body_text=text, redactor=redactor or Redactor(),
    )  # fmt: skip


def test_a_json_body_is_written_as_the_text_it_came_as_and_reads_back_the_same(
    tmp_path: Path,
) -> None:
    path = tmp_path / "api_capture.json"
    compact = '{"matchup_id":"서울|1","values":[1,2.50,null],"odd":"\\ud800"}'
    pretty = '{\n  "status": "ok"\n}'
    captures = [_decoded("matchup", compact), _decoded("health", pretty)]

    write_capture_file(path, "http://127.0.0.1:1", captures)

    text = path.read_text(encoding="utf-8")
    assert compact in text  # as sent: not decoded and encoded again
    assert len(text.splitlines()) == 4  # the pretty body was re-encoded: still one line each
    assert [c["body"] for c in read_captures(path)] == [c.body for c in captures]
    assert list(read_captures(path)[0])[-1] == "body"  # what the capture was comes first


def test_a_secret_in_a_json_body_written_as_text_is_masked(tmp_path: Path) -> None:
    path = tmp_path / "api_capture.json"
    plain = Redactor(["tok-12345"])
    quoted = Redactor(['pass"word-123'])  # JSON escapes it: only the decoded body can be masked
    captures = [
        _decoded("plain", '{"token":"tok-12345","n":1}', plain),
        _decoded("quoted", '{"token":"pass\\"word-123","n":2}', quoted),
    ]

    write_capture_file(path, "http://127.0.0.1:1", captures)

    text = path.read_text(encoding="utf-8")
    assert "tok-12345" not in text
    assert "word-123" not in text
    assert [c["body"] for c in read_captures(path)] == [
        {"token": MASK, "n": 1},
        {"token": MASK, "n": 2},
    ]
