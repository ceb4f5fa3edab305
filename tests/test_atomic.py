"""Atomic writes: a reader sees the old file or the whole new one; failures leave no debris."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from recovery_plugin import atomic
from recovery_plugin.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic


def _debris(directory: Path, keep: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != keep)


def test_write_bytes_creates_the_file_with_exact_content(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"

    write_bytes_atomic(target, b"\x00\xffabc")

    assert target.read_bytes() == b"\x00\xffabc"
    assert _debris(tmp_path, "data.bin") == []


def test_write_text_replaces_an_existing_file_as_utf8(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    target.write_text("old content that is longer than the new one", encoding="utf-8")

    write_text_atomic(target, "새 내용")

    assert target.read_bytes() == "새 내용".encode()
    assert _debris(tmp_path, "report.txt") == []


def test_write_json_keeps_hangul_readable_and_serialises_paths(tmp_path: Path) -> None:
    target = tmp_path / "report.json"

    write_json_atomic(target, {"matchup_id": "서울|시장/2026", "dir": tmp_path, "n": [1, 2]})

    text = target.read_text(encoding="utf-8")
    assert "서울|시장/2026" in text
    assert "\\u" not in text
    assert text.endswith("}\n")
    assert '\n  "n": [' in text  # indented for humans
    assert json.loads(text) == {"matchup_id": "서울|시장/2026", "dir": str(tmp_path), "n": [1, 2]}


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    target.write_text('{"status": "old"}\n', encoding="utf-8")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", broken_fsync)

    with pytest.raises(OSError, match="No space left"):
        write_json_atomic(target, {"status": "new"})

    assert target.read_text(encoding="utf-8") == '{"status": "old"}\n'
    assert _debris(tmp_path, "report.json") == []


def test_an_interrupt_during_the_write_cleans_up_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"

    def interrupted_fsync(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "fsync", interrupted_fsync)

    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(target, "never visible")

    assert list(tmp_path.iterdir()) == []


def test_writing_into_a_missing_directory_raises_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_text_atomic(tmp_path / "missing" / "report.json", "{}")

    assert list(tmp_path.iterdir()) == []


def test_a_concurrent_reader_only_ever_sees_whole_documents(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    write_json_atomic(target, {"i": -1, "pad": ""})
    stop = threading.Event()
    seen: list[int] = []
    torn: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            text = target.read_text(encoding="utf-8")
            try:
                seen.append(json.loads(text)["i"])
            except ValueError:
                torn.append(text[:80])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(60):
            write_json_atomic(target, {"i": i, "pad": "x" * (50_000 + i * 997)})
    finally:
        stop.set()
        thread.join()

    assert torn == []
    assert seen
    assert json.loads(target.read_text(encoding="utf-8"))["i"] == 59
    assert _debris(tmp_path, "report.json") == []
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
