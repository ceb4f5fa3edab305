"""Matchup ids: one URL path segment on the wire, one safe, unique name on disk."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from recovery_plugin.errors import ConfigError
from recovery_plugin.ids import (
    check_matchup_id,
    path_segment,
    read_matchup_file,
    safe_name,
    write_matchup_file,
)

KOREAN_ID = "2026-서울시장|여론조사/A"


def test_path_segment_encodes_slash_pipe_percent_and_hangul_into_one_segment() -> None:
    segment = path_segment(KOREAN_ID + " 100%")

    assert "/" not in segment
    assert "|" not in segment
    assert " " not in segment
    assert segment.isascii()
    assert "%2F" in segment
    assert "%7C" in segment
    assert "%25" in segment
    assert unquote(segment) == KOREAN_ID + " 100%"


def test_path_segment_leaves_plain_ascii_ids_readable() -> None:
    assert path_segment("matchup-2026_01.a") == "matchup-2026_01.a"


@pytest.mark.parametrize(
    "value",
    [KOREAN_ID, "..", "../../etc/passwd", "a/b", "a b", "", "서울", "x" * 500, ".hidden"],
)
def test_safe_name_is_a_single_bounded_file_name(value: str) -> None:
    name = safe_name(value)

    assert re.fullmatch(r"[A-Za-z0-9._-]+", name), name
    assert "/" not in name
    assert name not in (".", "..")
    assert not name.startswith(".")
    assert len(name) <= 48 + 1 + 10


def test_safe_name_keeps_the_readable_part_of_ascii_ids() -> None:
    assert safe_name("matchup-42").startswith("matchup-42-")


def test_safe_name_never_collides_for_ids_that_slug_alike() -> None:
    names = {safe_name(v) for v in ("a/b", "a_b", "a|b", "a b", "a?b", "서울/a", "부산/a")}

    assert len(names) == 7


def test_safe_name_is_stable_across_calls() -> None:
    assert safe_name(KOREAN_ID) == safe_name(KOREAN_ID)


def test_safe_name_of_long_ids_differing_only_at_the_end_stays_unique() -> None:
    prefix = "m" * 200

    assert safe_name(prefix + "1") != safe_name(prefix + "2")


@pytest.mark.parametrize(("value", "problem"), [("", "empty"), ("   ", "empty"), ("a\x00b", "NUL")])
def test_check_matchup_id_explains_unusable_ids(value: str, problem: str) -> None:
    reason = check_matchup_id(value)

    assert reason is not None
    assert problem in reason


@pytest.mark.parametrize("value", [KOREAN_ID, "42", "a/b|c", "%2F"])
def test_check_matchup_id_accepts_ids_with_separators_and_hangul(value: str) -> None:
    assert check_matchup_id(value) is None


# --- matchup files -------------------------------------------------------------------------


def test_a_line_file_gives_one_id_per_line_skipping_comments_and_blanks(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_text(
        f"# failed last night\n\n  {KOREAN_ID}  \nm 2 with spaces\n\t# indented comment\n42\n",
        encoding="utf-8",
    )

    assert read_matchup_file(path) == [KOREAN_ID, "m 2 with spaces", "42"]


def test_a_json_file_gives_its_list_of_ids(tmp_path: Path) -> None:
    path = tmp_path / "ids.json"
    path.write_text('  ["a", "서울|시장/2026", "#not-a-comment"]\n', encoding="utf-8")

    assert read_matchup_file(path) == ["a", "서울|시장/2026", "#not-a-comment"]


def test_written_ids_read_back_exactly(tmp_path: Path) -> None:
    ids = [KOREAN_ID, "# hash first", "  padded  ", "[bracket]", 'quo"te']
    path = tmp_path / "matchup_ids.json"

    write_matchup_file(path, ids)

    assert read_matchup_file(path) == ids
    assert "서울" in path.read_text(encoding="utf-8")


def test_a_missing_matchup_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"

    with pytest.raises(ConfigError, match="--matchup-file not found: ") as info:
        read_matchup_file(path)

    assert str(path) in info.value.message


def test_a_nul_in_a_line_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_text("ok\nbad\x00id\n", encoding="utf-8")

    with pytest.raises(ConfigError) as info:
        read_matchup_file(path)

    assert (
        info.value.message
        == f"--matchup-file {path}: line 2: the matchup id contains a NUL character"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('["a", "b"', "invalid JSON"),
        ('["a", 1]', "a JSON file must hold a list of strings"),
        ('[{"id": "a"}]', "a JSON file must hold a list of strings"),
    ],
)
def test_a_bad_json_matchup_file_is_explained(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "ids.json"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as info:
        read_matchup_file(path)

    assert info.value.message.startswith(f"--matchup-file {path}: ")
    assert problem in info.value.message


def test_a_matchup_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_bytes(b"\xbc\xad\xbf\xef\n")

    with pytest.raises(ConfigError, match="cannot read --matchup-file"):
        read_matchup_file(path)
