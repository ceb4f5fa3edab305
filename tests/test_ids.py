"""Matchup ids: one URL path segment on the wire, one safe, unique name on disk."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote

import pytest

from recovery_plugin.errors import ConfigError, ExitCode
from recovery_plugin.ids import (
    MAX_MATCHUP_FILE_BYTES,
    check_matchup_id,
    path_segment,
    printable,
    read_matchup_file,
    step_names,
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


# --- step names: distinct by construction ----------------------------------------------------

# Two ids whose readable parts are alike and whose 40-bit hashes collide (found in 14 s of search):
# under the old scheme they shared one step directory, logs and report.
COLLIDING_IDS = ("m |//?|/  ?//", "m?/|//| / /|/")


def test_ids_whose_old_hashed_names_collide_get_distinct_step_names() -> None:
    names = step_names(list(COLLIDING_IDS))

    assert len(set(names)) == 2


def test_step_names_are_distinct_even_on_a_case_insensitive_file_system() -> None:
    ids = ["A", "a", "a/b", "a_b", "a b", "서울/a", "부산/a", "..", ".", "x" * 500, "x" * 501]

    names = step_names(ids)

    assert len({name.casefold() for name in names}) == len(ids)


@pytest.mark.parametrize(
    "value", [KOREAN_ID, "..", "../../etc/passwd", "a/b", "", "서울", "x" * 10_000, ".hidden"]
)
def test_a_step_name_is_a_single_bounded_file_name(value: str) -> None:
    (name,) = step_names([value])

    assert re.fullmatch(r"[A-Za-z0-9._-]+", name), name
    assert not name.startswith(".")
    assert len(name) <= 64


def test_step_names_keep_the_readable_part_and_sort_in_run_order() -> None:
    ids = [f"matchup-{n}" for n in range(12)]

    names = step_names(ids)

    assert names[0] == "01-matchup-0"
    assert names[11] == "12-matchup-11"
    assert sorted(names) == names


def test_naming_steps_does_not_load_hashlib() -> None:
    # OpenSSL start-up is a measurable part of a dry-run's; the names need no hash.
    code = (
        "import sys; from recovery_plugin.ids import step_names; step_names(['a/b', 'a_b']);"
        " print('hashlib' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.strip() == "False"


# --- terminal output -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a\x1b[31mred", "a\\x1b[31mred"),
        ("c1\x9b31m", "c1\\x9b31m"),  # a C1 CSI: some terminals act on it as ESC [
        ("next\x85line", "next\\x85line"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),  # right-to-left override
        ("iso\u2066late\u2069", "iso\\u2066late\\u2069"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("bom\ufeff", "bom\\ufeff"),
        ("line\u2028sep", "line\\u2028sep"),
        ("filler\u3164", "filler\\u3164"),  # Hangul fillers print as nothing at all
        ("filler\u115f\u1160", "filler\\u115f\\u1160"),
        ("half\uffa0", "half\\uffa0"),
        ("bytes\udcff", "bytes\\udcff"),  # a non-UTF-8 byte, surrogate-escaped
    ],
)
def test_printable_escapes_controls_bidi_overrides_and_invisible_characters(
    value: str, shown: str
) -> None:
    assert printable(value) == shown


def test_printable_leaves_hangul_and_accents_as_they_are() -> None:
    assert printable("2026-서울시장|café") == "2026-서울시장|café"


# --- matchup files that are not files --------------------------------------------------------


def _read_guarded(path: Path) -> ConfigError:
    """``read_matchup_file(path)``'s error; a read that blocks fails the test instead of hanging."""
    outcome: list[BaseException | list[str]] = []
    worker = threading.Thread(target=lambda: outcome.append(_capture_error(path)), daemon=True)
    worker.start()
    worker.join(HANG_GUARD_S)
    assert outcome, f"reading {path} blocked"
    (error,) = outcome
    assert isinstance(error, ConfigError), error
    return error


def _capture_error(path: Path) -> BaseException | list[str]:
    try:
        return read_matchup_file(path)
    except BaseException as exc:
        return exc


HANG_GUARD_S = 30.0


def test_a_fifo_without_a_writer_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "ids.fifo"
    os.mkfifo(fifo)

    error = _read_guarded(fifo)

    assert error.exit_code == ExitCode.USAGE
    assert error.message == f"--matchup-file {fifo}: not a regular file (a FIFO)"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_refused_without_reading_it() -> None:
    error = _read_guarded(Path("/dev/zero"))

    assert error.message == "--matchup-file /dev/zero: not a regular file (a character device)"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    error = _read_guarded(tmp_path)

    assert error.message == f"--matchup-file {tmp_path}: not a regular file (a directory)"


def test_a_matchup_file_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    with path.open("wb") as handle:
        handle.truncate(MAX_MATCHUP_FILE_BYTES + 1)  # sparse: costs no disk

    error = _read_guarded(path)

    assert error.message == (
        f"--matchup-file {path}: larger than 16 MiB ({MAX_MATCHUP_FILE_BYTES + 1} bytes);"
        " an id list is far smaller"
    )


def test_a_matchup_file_at_the_size_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    line = b"matchup-0000001\n"
    path.write_bytes(line * (MAX_MATCHUP_FILE_BYTES // len(line)))

    assert len(read_matchup_file(path)) == MAX_MATCHUP_FILE_BYTES // len(line)


def test_a_symlink_to_a_regular_file_is_followed(tmp_path: Path) -> None:
    target = tmp_path / "ids.txt"
    target.write_text("a\nb\n", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(target)

    assert read_matchup_file(link) == ["a", "b"]


def test_a_control_character_in_the_path_is_escaped_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "ids\n\x1b[2J.txt"

    error = _read_guarded(path)

    assert "\n" not in error.message and "\x1b" not in error.message
    assert "ids\\n\\x1b[2J.txt" in error.message
