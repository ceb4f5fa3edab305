"""JSONPath assertions and baseline effect checks: pass, fail (with the reason an operator reads)
and bad configuration (one error naming the key)."""

from __future__ import annotations

import datetime
import subprocess
import sys
from typing import Any

import pytest

from recovery_plugin.errors import ConfigError
from recovery_plugin.http.assertions import (
    Assertion,
    check_paths,
    evaluate,
    holds,
    parse_assertion,
    parse_assertions,
)
from recovery_plugin.http.effect import EffectSpec, compare, parse_effect
from recovery_plugin.http.effect import check_paths as check_effect_paths

ID = "20260603|광역자치단체장|11-000"
WHERE = "recovery.toml: endpoints[2].assert"

BODY: dict[str, Any] = {
    "matchup_id": ID,
    "has_data": True,
    "fallback_mode": "none",
    "margin_of_error": None,
    "sample_size": 1004,
    "title": "서울시장",
    "scope_breakdown": {"national": 0, "regional": 1, "local": 0},
    "options": [
        {"option_name": "윤하람", "value_mid": 41.2},
        {"option_name": "백도현", "value_mid": 37.5},
        {"option_name": "없음/모름", "value_mid": 21.3},
    ],
}


def a(path: str, op: str, *value: Any) -> Assertion:
    table: dict[str, Any] = {"path": path, "op": op}
    if value:
        table["value"] = value[0]
    return parse_assertion(table, f"{WHERE}[0]")


@pytest.mark.parametrize(
    ("path", "op", "value"),
    [
        ("$.has_data", "==", True),
        ("$.scope_breakdown.regional", "==", 1),
        ("$.scope_breakdown.regional", "==", 1.0),
        ("$.fallback_mode", "!=", "incumbent"),
        ("$.sample_size", ">", 1000),
        ("$.sample_size", "<=", 1004),
        ("$.options[*].value_mid", ">=", 0),
        ("$.options[*].value_mid", "<", 50),
        ("$.title", ">=", "가"),
        ("$.fallback_mode", "in", ["none", "regional"]),
        ("$.matchup_id", "==", "{matchup_id}"),
        ("$.matchup_id", "matches", "^{matchup_id}$"),
        ("$.title", "matches", "시장"),
        ("$.options", "len ==", 3),
        ("$.options", "len >=", 2),
        ("$.title", "len <", 10),
        ("$.options[?@.value_mid > 40].option_name", "==", "윤하람"),
        ("$.margin_of_error", "type", "null"),
        ("$.sample_size", "type", "integer"),
        ("$.options[*].value_mid", "type", "number"),
        ("$.margin_of_error", "type", ["number", "null"]),
        ("$['scope_breakdown']", "type", "object"),
    ],
)
def test_assertion_holds(path: str, op: str, value: Any) -> None:
    assertion = a(path, op, value)
    assert evaluate([assertion], BODY, ID) == []
    assert holds(assertion, BODY, ID)


def test_exists_and_absent() -> None:
    assert evaluate([a("$.margin_of_error", "exists")], BODY) == []  # null is present
    assert evaluate([a("$.options[*].option_name", "exists")], BODY) == []
    assert evaluate([a("$.nope", "absent")], BODY) == []
    assert evaluate([a("$.nope", "exists")], BODY) == [
        "$.nope exists: no match for $.nope in the response"
    ]
    assert evaluate([a("$.margin_of_error", "absent")], BODY) == [
        "$.margin_of_error absent: present at $['margin_of_error'] = null"
    ]
    assert evaluate([a("$.options[*]", "absent")], BODY) == [
        '$.options[*] absent: present at $[\'options\'][0] = {"option_name": "윤하람", '
        '"value_mid": 41.2} (and 2 more)'
    ]


@pytest.mark.parametrize(
    ("assertion", "body", "reason"),
    [
        (("$.has_data", "==", True), {"has_data": False}, "$.has_data == true: got false"),
        (("$.has_data", "==", True), {"has_data": 1}, "$.has_data == true: got 1"),
        (("$.n", "==", 1), {"n": "1"}, '$.n == 1: got "1"'),
        (("$.n", "!=", 0), {"n": 0.0}, "$.n != 0: got 0.0"),
        (("$.n", ">", 5), {"n": 5}, "$.n > 5: got 5"),
        (
            ("$.n", "<", 5),
            {"n": "abc"},
            '$.n < 5: got "abc" (string), not comparable with a number',
        ),
        (("$.n", "<", 5), {"n": True}, "$.n < 5: got true (boolean), not comparable with a number"),
        (
            ("$.s", "in", ["a", "b"]),
            {"s": "c"},
            '$.s in ["a", "b"]: got "c", not one of ["a", "b"]',
        ),
        (("$.s", "matches", "^x"), {"s": "yx"}, '$.s matches /^x/: got "yx", which does not match'),
        (
            ("$.s", "matches", "x"),
            {"s": 1},
            "$.s matches /x/: got 1 (number); 'matches' needs a string",
        ),
        (("$.l", "len ==", 2), {"l": [1]}, "$.l len == 2: got length 1"),
        (("$.l", "len >", 0), {"l": 3}, "$.l len > 0: got 3 (number), which has no length"),
        (("$.t", "type", "integer"), {"t": 1.5}, '$.t type "integer": got 1.5 (number)'),
        (("$.t", "type", "object"), {"t": []}, '$.t type "object": got [] (array)'),
        (("$.missing", "==", 1), {}, "$.missing == 1: no match for $.missing in the response"),
        (("$.x.y", "==", 1), {"x": [1]}, "$.x.y == 1: no match for $.x.y in the response"),
        (("$.x", "==", 1), None, "$.x == 1: no match for $.x in the response"),
    ],
)
def test_assertion_fails_with_a_precise_reason(
    assertion: tuple[str, str, Any], body: Any, reason: str
) -> None:
    parsed = a(*assertion)
    assert evaluate([parsed], body) == [reason]
    assert not holds(parsed, body)


def test_every_wildcard_match_must_hold_and_each_failure_names_its_node() -> None:
    body = {"options": [{"value_mid": 1}, {"value_mid": "abc"}, {"value_mid": None}]}
    assert evaluate([a("$.options[*].value_mid", "type", "number")], body) == [
        "$.options[*].value_mid type \"number\": at $['options'][1]['value_mid']: got \"abc\" (string)",
        "$.options[*].value_mid type \"number\": at $['options'][2]['value_mid']: got null (null)",
    ]
    assert evaluate([a("$.options[*].value_mid", "type", "number")], {"options": []}) == [
        '$.options[*].value_mid type "number": no match for $.options[*].value_mid in the response'
    ]


def test_many_failing_nodes_are_counted_not_listed() -> None:
    body = {"l": list(range(20))}
    reasons = evaluate([a("$.l[*]", ">", 100)], body)
    assert len(reasons) == 6
    assert reasons[-1] == "$.l[*] > 100: 15 more of 20 matches fail"


def test_matchup_id_placeholder_is_filled_and_regex_escaped() -> None:
    equal = a("$.matchup_id", "==", "{matchup_id}")
    assert evaluate([equal], {"matchup_id": "other"}, ID) == [
        f'$.matchup_id == "{ID}": got "other"'
    ]
    # The id has '|' and '+': filled into a regex it must match literally, not as alternation.
    plus_id = "20260603|국회의원 재보궐|41-135+41-137"
    anchored = a("$.matchup_id", "matches", "^{matchup_id}$")
    assert evaluate([anchored], {"matchup_id": plus_id}, plus_id) == []
    assert not holds(anchored, {"matchup_id": "20260603"}, plus_id)
    assert equal.uses_matchup_id and not a("$.x", "==", 1).uses_matchup_id


def test_long_values_are_truncated_in_reasons() -> None:
    reasons = evaluate([a("$.s", "==", "short")], {"s": "x" * 500})
    assert len(reasons[0]) < 200
    assert reasons[0].endswith("…")


def test_several_assertions_report_every_failure_in_order() -> None:
    assertions = parse_assertions(
        [
            {"path": "$.has_data", "op": "==", "value": True},
            {"path": "$.fallback_mode", "op": "==", "value": "none"},
        ],
        WHERE,
    )
    assert evaluate(assertions, {"has_data": False, "fallback_mode": "incumbent"}) == [
        "$.has_data == true: got false",
        '$.fallback_mode == "none": got "incumbent"',
    ]
    assert [x.where for x in assertions] == [f"{WHERE}[0]", f"{WHERE}[1]"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"path": "$.x", "op": "=~", "value": 1}, "[0].op: unknown operator '=~' (known: ==, !=,"),
        ({"path": "$.x", "value": 1}, "[0].op: required (known: ==,"),
        ({"path": "$.x", "op": "=="}, "[0].value: required for operator '=='"),
        (
            {"path": "$.x", "op": "exists", "value": 1},
            "[0].value: operator 'exists' takes no value",
        ),
        ({"op": "==", "value": 1}, "[0].path: required: a JSONPath such as '$.has_data'"),
        (
            {"path": "x.y", "op": "==", "value": 1},
            "[0].path: a JSONPath starts with '$', got 'x.y'",
        ),
        (
            {"path": "$.x", "op": "==", "vaule": 1},
            "[0].vaule: unknown key (known keys: op, path, value)",
        ),
        (
            {"path": "$.x", "op": "matches", "value": "("},
            "[0].value: invalid regular expression '('",
        ),
        (
            {"path": "$.x", "op": "matches", "value": 3},
            "[0].value: operator 'matches' needs a regular",
        ),
        (
            {"path": "$.x", "op": "<", "value": [1]},
            "[0].value: operator '<' needs a number or a string",
        ),
        ({"path": "$.x", "op": "in", "value": "a"}, "[0].value: operator 'in' needs an array"),
        (
            {"path": "$.x", "op": "len ==", "value": -1},
            "[0].value: operator 'len ==' needs an integer >= 0",
        ),
        (
            {"path": "$.x", "op": "len ==", "value": True},
            "[0].value: operator 'len ==' needs an integer",
        ),
        ({"path": "$.x", "op": "type", "value": "float"}, '[0].value: unknown JSON type "float"'),
        (
            {"path": "$.x", "op": "==", "value": datetime.date(2026, 6, 3)},
            "[0].value: TOML dates and times are not JSON values",
        ),
        (
            {"path": "$.x", "op": "==", "value": [1, float("nan")]},
            "[0].value[1]: must be a finite number",
        ),
        ("$.x == 1", "[0]: must be a table with path, op and value, got string"),
    ],
)
def test_bad_assertion_config_names_the_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_assertions([raw], WHERE)
    assert info.value.message.startswith(WHERE + message)
    assert "\n" not in info.value.message


def test_assert_must_be_an_array() -> None:
    with pytest.raises(
        ConfigError, match=r"endpoints\[2\]\.assert: must be an array of tables, got object"
    ):
        parse_assertions({"path": "$.x"}, WHERE)


def test_check_paths_rejects_invalid_jsonpath_naming_the_key() -> None:
    good = parse_assertions([{"path": "$.options[*].value_mid", "op": "exists"}], WHERE)
    check_paths(good)
    bad = parse_assertions(
        [{"path": "$.x", "op": "exists"}, {"path": "$.options[", "op": "exists"}], WHERE
    )
    with pytest.raises(ConfigError) as info:
        check_paths(bad)
    assert info.value.message.startswith(f"{WHERE}[1].path: invalid JSONPath '$.options[': ")
    # A non-standard extension is not RFC 9535.
    with pytest.raises(ConfigError, match=r"\[0\]\.path: invalid JSONPath"):
        check_paths(parse_assertions([{"path": "$.a | $.b", "op": "exists"}], WHERE))


def test_an_unchecked_bad_path_fails_the_check_instead_of_raising() -> None:
    assertion = parse_assertion({"path": "$[", "op": "exists"}, f"{WHERE}[0]")
    [reason] = evaluate([assertion], {})
    assert reason.startswith("$[ exists: invalid JSONPath: ")


def test_parsing_does_not_import_the_jsonpath_library() -> None:
    probe = (
        "import sys\n"
        "from recovery_plugin.http import assertions, effect\n"
        "assertions.parse_assertions([{'path': '$.x', 'op': '==', 'value': 1}], 'w')\n"
        "effect.parse_effect({'expect_changed': ['$.x']}, 'w')\n"
        "print('jsonpath' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"


# --- effect: expect_changed / expect_unchanged ------------------------------------------------

BEFORE: dict[str, Any] = {
    "updated_at": "2026-02-24T09:10:00Z",
    "scope_breakdown": {"national": 0, "regional": 1, "local": 0},
    "options": [{"value_mid": 41.2}, {"value_mid": 37.5}],
}


def after(**changes: Any) -> dict[str, Any]:
    return {**BEFORE, **changes}


def effect(table: dict[str, Any]) -> EffectSpec:
    spec = parse_effect(table, "recovery.toml: endpoints[1]")
    check_effect_paths(spec)
    return spec


def test_expect_changed_passes_when_the_value_moved() -> None:
    spec = effect({"expect_changed": ["$.updated_at"]})
    assert compare(spec, BEFORE, after(updated_at="2026-02-25T00:00:00Z")) == []


def test_expect_changed_fails_with_the_unchanged_value() -> None:
    spec = effect({"expect_changed": ["$.updated_at"]})
    assert compare(spec, BEFORE, after()) == [
        "expect_changed $.updated_at: $.updated_at is unchanged since the baseline: "
        'still "2026-02-24T09:10:00Z"'
    ]


def test_expect_changed_true_means_the_whole_body() -> None:
    spec = effect({"expect_changed": True})
    assert spec.changed == ("$",)
    assert compare(spec, BEFORE, after(options=[{"value_mid": 41.3}, {"value_mid": 37.5}])) == []
    [reason] = compare(spec, BEFORE, dict(BEFORE))
    assert reason.startswith("expect_changed $: the body is unchanged since the baseline: still {")


def test_expect_changed_on_a_wildcard_sees_any_node_move() -> None:
    spec = effect({"expect_changed": ["$.options[*].value_mid"]})
    assert compare(spec, BEFORE, after(options=[{"value_mid": 41.2}, {"value_mid": 38.0}])) == []
    assert compare(spec, BEFORE, after(options=[{"value_mid": 41.2}])) == []  # one fewer option
    assert compare(spec, BEFORE, after()) == [
        "expect_changed $.options[*].value_mid: $.options[*].value_mid is unchanged since the "
        "baseline: still [41.2, 37.5]"
    ]


def test_expect_unchanged_reports_each_moved_leaf_with_old_and_new() -> None:
    spec = effect({"expect_unchanged": ["$.scope_breakdown"]})
    assert compare(spec, BEFORE, after()) == []
    moved = after(scope_breakdown={"national": 2, "regional": 1, "unknown": 0})
    assert compare(spec, BEFORE, moved) == [
        "expect_unchanged $.scope_breakdown: changed since the baseline: "
        "$['scope_breakdown']['national'] was 0, now 2; "
        "$['scope_breakdown']['local'] was 0, now absent; "
        "$['scope_breakdown']['unknown'] was absent, now 0"
    ]


def test_expect_unchanged_numbers_compare_as_json() -> None:
    spec = effect({"expect_unchanged": ["$.scope_breakdown.regional"]})
    assert compare(spec, BEFORE, after(scope_breakdown={"regional": 1.0})) == []
    assert compare(spec, BEFORE, after(scope_breakdown={"regional": True})) == [
        "expect_unchanged $.scope_breakdown.regional: changed since the baseline: "
        "$['scope_breakdown']['regional'] was 1, now true"
    ]
    gone = compare(spec, BEFORE, after(scope_breakdown={}))
    assert gone == [
        "expect_unchanged $.scope_breakdown.regional: changed since the baseline: "
        "$['scope_breakdown']['regional'] was 1, now absent"
    ]


def test_a_path_matching_nothing_on_either_side_fails() -> None:
    spec = effect({"expect_changed": ["$.updatd_at"], "expect_unchanged": ["$.nope"]})
    assert compare(spec, BEFORE, after()) == [
        "expect_changed $.updatd_at: no match in the baseline nor after",
        "expect_unchanged $.nope: no match in the baseline nor after",
    ]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"expect_changed": []}, "endpoints[1].expect_changed: must be true (the whole body) or"),
        (
            {"expect_changed": False},
            "endpoints[1].expect_changed: must be true (the whole body) or",
        ),
        (
            {"expect_unchanged": ["updated_at"]},
            "endpoints[1].expect_unchanged[0]: must be a JSONPath",
        ),
        ({"expect_unchanged": ["$.a", 3]}, "endpoints[1].expect_unchanged[1]: must be a JSONPath"),
    ],
)
def test_bad_effect_config_names_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_effect(table, "recovery.toml: endpoints[1]")
    assert info.value.message.startswith("recovery.toml: " + message)


def test_bad_effect_path_is_a_config_error_when_checked() -> None:
    spec = parse_effect({"expect_unchanged": ["$.ok", "$.a["]}, "recovery.toml: endpoints[1]")
    with pytest.raises(
        ConfigError,
        match=r"^recovery\.toml: endpoints\[1\]\.expect_unchanged\[1\]: invalid JSONPath",
    ):
        check_effect_paths(spec)
    assert parse_effect({}, "w").empty
