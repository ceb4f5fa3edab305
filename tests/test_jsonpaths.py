"""JSONPath queries: member-name queries answered without the library, exactly as it would."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import jsonpath
import pytest

from recovery_plugin.http import jsonpaths
from recovery_plugin.http.jsonpaths import MemberQuery, compile_path, find, is_singular

DOCUMENTS: list[Any] = [
    {"has_data": True, "matchup_id": "서울|1", "a": {"b": {"c": 0}}},
    {"has_data": None, "a": {"b": None}},
    {"a": [{"b": 1}], "true": 3, "_x1": {"y_": "z"}},
    {"a": "b", "b": 1.5},
    [{"has_data": True}],
    "has_data",
    None,
    {},
]
MEMBER_QUERIES = ["$", "$.has_data", "$.matchup_id", "$.a.b", "$.a.b.c", "$.true", "$._x1.y_"]


@pytest.mark.parametrize("path", MEMBER_QUERIES)
def test_a_member_query_selects_what_the_library_selects(path: str) -> None:
    library = jsonpath.compile(path, strict=True)
    assert isinstance(compile_path(path), MemberQuery)
    for document in DOCUMENTS:
        expected = [(m.path, m.obj) for m in library.finditer(document)]
        assert find(path, document) == expected, (path, document)
    assert is_singular(path) is bool(library.singular_query())


@pytest.mark.parametrize(
    "path", ["$.a[0].b", "$['has_data']", "$..b", "$.a.*", "$.서울", "$.a[?@.b == 1]", "$ .a"]
)
def test_anything_else_is_the_library_s(path: str) -> None:
    assert not isinstance(compile_path(path), MemberQuery)


@pytest.mark.parametrize("path", ["$.", "$.a.", "$..", "$.a b", "$.1a", "has_data"])
def test_a_malformed_query_is_still_a_syntax_error(path: str) -> None:
    with pytest.raises(jsonpaths.JSONPathSyntax):
        compile_path(path)


def test_a_member_query_does_not_import_the_library() -> None:
    probe = (
        "import sys\n"
        "from recovery_plugin.http.jsonpaths import find\n"
        "assert find('$.a.b', {'a': {'b': 1}}) == [(\"$['a']['b']\", 1)]\n"
        "print('jsonpath' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
