"""The declarative validator: every failure names the source and the dotted key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from recovery_plugin.validate import (
    JSON_WORDING,
    Invalid,
    ValidationError,
    document_keys,
    parse,
    rule,
)


def _no_x(name: str) -> None:
    if name.startswith("x"):
        raise Invalid("names starting with x are reserved")


@dataclass(frozen=True)
class Limits:
    timeout: float = field(default=1.0, metadata=rule(above=0))
    tries: int = field(default=1, metadata=rule(minimum=1, maximum=9))
    codes: tuple[int, ...] = field(default=(), metadata=rule(minimum=1))


@dataclass(frozen=True)
class Job:
    label: str = field(metadata=rule(in_file=False))
    argv: tuple[str, ...] = ("run",)
    flags: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict, metadata=rule(reset_with="argv")
    )


@dataclass(frozen=True)
class Doc:
    name: str
    quiet: bool = False
    limits: Limits = field(default_factory=Limits)
    env: Mapping[str, str] = field(default_factory=dict, metadata=rule(allow_empty=True))
    jobs: Mapping[str, Job] = field(default_factory=dict, metadata=rule(key_check=_no_x))
    items: tuple[Limits, ...] = ()
    origin: str = field(default="program", metadata=rule(in_file=False))

    def post_validate(self, given: frozenset[str]) -> None:
        if self.quiet and "env" in given:
            raise Invalid("quiet cannot be combined with env")


def _message(data: object, **kwargs: object) -> str:
    with pytest.raises(ValidationError) as info:
        parse(Doc, data, source="doc.toml", **kwargs)  # type: ignore[arg-type]
    return str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": 1}, "doc.toml: name: must be a string, got an integer"),
        ({"name": " "}, "doc.toml: name: must not be empty"),
        ({"name": "a", "quiet": "yes"}, "doc.toml: quiet: must be true or false, got a string"),
        ({"name": "a", "limits": []}, "doc.toml: limits: must be a table, got an array"),
        (
            {"name": "a", "limits": {"timeout": "1"}},
            "doc.toml: limits.timeout: must be a number, got a string",
        ),
        (
            {"name": "a", "limits": {"timeout": 0}},
            "doc.toml: limits.timeout: must be greater than 0, got 0",
        ),
        (
            {"name": "a", "limits": {"timeout": float("inf")}},
            "doc.toml: limits.timeout: must be a finite number, got inf",
        ),
        (
            {"name": "a", "limits": {"tries": True}},
            "doc.toml: limits.tries: must be an integer, got a boolean",
        ),
        (
            {"name": "a", "limits": {"tries": 10}},
            "doc.toml: limits.tries: must be an integer 1..9, got 10",
        ),
        (
            {"name": "a", "limits": {"codes": 3}},
            "doc.toml: limits.codes: must be a list of integers, got an integer",
        ),
        (
            {"name": "a", "limits": {"codes": [2, 0]}},
            "doc.toml: limits.codes[1]: must be at least 1, got 0",
        ),
        ({"name": "a", "env": {"A": 1}}, "doc.toml: env.A: must be a string, got an integer"),
        (
            {"name": "a", "items": {"tries": 1}},
            "doc.toml: items: must be an array of tables, got a table",
        ),
        (
            {"name": "a", "items": [{}, {"tries": 0}]},
            "doc.toml: items[1].tries: must be an integer 1..9, got 0",
        ),
        ({"quiet": True}, "doc.toml: name: is required"),
        (
            {"name": "a", "jobs": {"xray": {}}},
            "doc.toml: jobs.xray: names starting with x are reserved",
        ),
        (
            {"name": "a", "quiet": True, "env": {}},
            "doc.toml: quiet cannot be combined with env",
        ),
        ([], "doc.toml: must be a table, got an array"),
    ],
)
def test_each_failure_names_the_source_and_the_dotted_key(data: object, message: str) -> None:
    assert _message(data) == message


def test_an_unknown_key_is_named_with_the_known_ones() -> None:
    assert _message({"name": "a", "limits": {"timout": 1}}) == (
        "doc.toml: limits.timout: unknown key (known keys: codes, timeout, tries)"
    )
    # Keys set by the program, not the document, are unknown to the document.
    assert _message({"name": "a", "origin": "file"}).startswith("doc.toml: origin: unknown key")


def test_json_wording_says_object_and_quotes_the_unknown_key() -> None:
    assert _message({"name": "a", "limits": 1}, wording=JSON_WORDING) == (
        "doc.toml: limits: must be an object, got an integer"
    )
    assert _message({"name": "a", "bogus": 1}, wording=JSON_WORDING).startswith(
        "doc.toml: unknown key 'bogus' (allowed: env, items, jobs, limits, name, quiet)"
    )


def test_expected_words_replace_the_derived_ones() -> None:
    @dataclass(frozen=True)
    class Counts:
        n: int = field(default=0, metadata=rule(minimum=0, expected="an integer >= 0"))

    for bad, got in ((-1, "-1"), ("x", "a string")):
        with pytest.raises(ValidationError, match=f"^c: n: must be an integer >= 0, got {got}$"):
            parse(Counts, {"n": bad}, source="c")


def test_absent_keys_keep_the_base_and_tables_of_tables_merge() -> None:
    base = Doc(name="base", jobs={"a": Job("a", ("a",), {"m": ("--m",)}), "b": Job("b")})

    doc = parse(
        Doc, {"limits": {"tries": 3}, "jobs": {"a": {"argv": ["new"]}}}, source="d", base=base
    )

    assert doc.name == "base"
    assert doc.limits == Limits(tries=3)
    assert doc.jobs["b"] == Job("b")
    # A replaced argv drops the base's flags (reset_with), and the label is the program's.
    assert doc.jobs["a"] == Job("a", ("new",), {})
    assert doc.origin == "program"


def test_document_keys_are_the_file_fields_in_order() -> None:
    assert document_keys(Doc) == ("name", "quiet", "limits", "env", "jobs", "items")
    assert document_keys(Job) == ("argv", "flags")
