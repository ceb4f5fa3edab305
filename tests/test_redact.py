"""Secrets never reach what the tool writes: values, URL credentials, authorization headers."""

from __future__ import annotations

import time

import pytest

from recovery_plugin.redact import MASK, Redactor, secret_values

TOKEN = "tok-9f8e7d6c5b4a"
DB_URL = "postgresql://app:hunter2pw@db.internal:5432/polls"


def test_known_secret_values_are_masked_everywhere_in_a_text() -> None:
    redactor = Redactor([TOKEN])

    text = redactor.text(f"token={TOKEN} again {TOKEN}.")

    assert TOKEN not in text
    assert text == f"token={MASK} again {MASK}."


def test_a_secret_containing_another_is_masked_whole() -> None:
    redactor = Redactor(["abcdefgh", "abcdefgh-long"])

    assert redactor.text("x abcdefgh-long y abcdefgh") == f"x {MASK} y {MASK}"


def test_very_short_secret_values_are_not_masked_to_keep_reports_readable() -> None:
    redactor = Redactor(["ab", "1"])

    assert redactor.text("ab 1 tab") == "ab 1 tab"


def test_secret_values_with_regex_metacharacters_are_masked_literally() -> None:
    secret = "p+a.s$s(word)*"
    redactor = Redactor([secret])

    assert redactor.text(f"pw={secret};") == f"pw={MASK};"
    assert redactor.text("pXaXsXsXwordX") == "pXaXsXsXwordX"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DB_URL, f"postgresql://{MASK}@db.internal:5432/polls"),
        ("see https://user:pw@example.com/x", f"see https://{MASK}@example.com/x"),
        ("https://onlytoken@example.com", f"https://{MASK}@example.com"),
        ("redis://:secretpw@cache:6379/0", f"redis://{MASK}@cache:6379/0"),
    ],
)
def test_url_credentials_are_masked_without_a_configured_secret(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


@pytest.mark.parametrize(
    "text", ["http://127.0.0.1:8100/api/v1/dashboard/summary", "mail ops@example.com", "a:b@c"]
)
def test_text_without_credentials_is_left_alone(text: str) -> None:
    assert Redactor().text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def.ghi", f"Authorization: {MASK}"),
        ("authorization=Basic dXNlcjpwdw==", f"authorization={MASK}"),
        ("Proxy-Authorization: Basic Zm9v", f"Proxy-Authorization: {MASK}"),
        ('{"Authorization": "Bearer abc", "x": 1}', f'{{"Authorization": "{MASK}", "x": 1}}'),
        ("curl -H 'AUTHORIZATION: token xyz'\nnext", f"curl -H 'AUTHORIZATION: {MASK}'\nnext"),
        # In a text that is not ASCII (a Korean body) too, in any case.
        (
            '{"제목": "서울", "AuThOrIzAtIoN": "Basic Zm9v"}',
            f'{{"제목": "서울", "AuThOrIzAtIoN": "{MASK}"}}',
        ),
        ("토큰 Bearer abcdefghijklmnop0123 끝", f"토큰 Bearer {MASK} 끝"),
        ("\ud800 authorization: x", f"\ud800 authorization: {MASK}"),
    ],
)
def test_authorization_headers_in_text_are_masked(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


def test_sensitive_headers_are_masked_whole_and_others_are_redacted_by_value() -> None:
    redactor = Redactor([TOKEN])

    headers = redactor.headers(
        {
            "authorization": "Bearer x",
            "Cookie": "session=abc",
            "Set-Cookie": "id=1; HttpOnly",
            "Proxy-Authorization": "Basic y",
            "X-Debug": f"job token {TOKEN}",
            "Content-Type": "application/json",
        }
    )

    assert headers == {
        "authorization": MASK,
        "Cookie": MASK,
        "Set-Cookie": MASK,
        "Proxy-Authorization": MASK,
        "X-Debug": f"job token {MASK}",
        "Content-Type": "application/json",
    }


def test_obj_redacts_nested_strings_and_keys_and_keeps_other_values() -> None:
    redactor = Redactor([TOKEN])
    payload = {
        "steps": [{"command": ["python", "--token", TOKEN], "exit_code": 0, "ok": True}],
        TOKEN: "as a key",
        "nested": {"url": DB_URL, "ratio": 0.5, "none": None},
        "pair": ("a", TOKEN),
    }

    result = redactor.obj(payload)

    assert result == {
        "steps": [{"command": ["python", "--token", MASK], "exit_code": 0, "ok": True}],
        MASK: "as a key",
        "nested": {
            "url": f"postgresql://{MASK}@db.internal:5432/polls",
            "ratio": 0.5,
            "none": None,
        },
        "pair": ["a", MASK],
    }
    assert TOKEN in payload["steps"][0]["command"]  # the input is not modified


def test_secret_values_takes_listed_and_secret_looking_names_only() -> None:
    environ = {
        "DATABASE_URL": DB_URL,
        "INTERNAL_JOB_TOKEN": TOKEN,
        "api_key": "k-1234",
        "SOME_SECRET": "s-5678",
        "DB_PASSWORD": "pw-0000",
        "LDAP_PASSWD": "pw-1111",
        "CUSTOM_THING": "custom-value",
        "HOME": "/root",
        "PATH": "/usr/bin",
        "EMPTY_TOKEN": "",
    }

    values = secret_values(environ, ["DATABASE_URL", "CUSTOM_THING"])

    assert sorted(values) == sorted(
        [DB_URL, TOKEN, "k-1234", "s-5678", "pw-0000", "pw-1111", "custom-value"]
    )


def test_a_redactor_built_from_the_environment_masks_the_database_url() -> None:
    environ = {"DATABASE_URL": "sqlite:////var/db/polls.sqlite3", "HOME": "/root"}
    redactor = Redactor(secret_values(environ, ["DATABASE_URL"]))

    assert redactor.text("db at sqlite:////var/db/polls.sqlite3 home /root") == (
        f"db at {MASK} home /root"
    )


def test_redacting_a_long_unbroken_token_takes_linear_time() -> None:
    # Step logs and response bodies may hold long hex or base64-like runs without "://".
    text = "a" * 40_000

    start = time.perf_counter()
    result = Redactor(["not-present"]).text(text)
    elapsed = time.perf_counter() - start

    assert result == text
    assert elapsed < 0.25, f"redacting 40,000 characters took {elapsed:.2f}s"


def test_json_document_masks_like_the_structural_walk() -> None:
    import json

    plain = Redactor(["tok-123456"])
    document = {"a": "x tok-123456 y", "url": "http://u:p@h/x", "tok-123456": [1, "tok-123456"]}
    text = json.dumps(document)
    assert plain.json_document(text, json.loads(text)) == plain.obj(document)
    untouched = {"title": "서울시장", "n": 3}
    text = json.dumps(untouched, ensure_ascii=False)
    parsed = json.loads(text)
    assert plain.json_document(text, parsed) is parsed  # nothing to mask: no second parse
    quoted = Redactor(['pa"ss\\word'])
    document = {"a": 'x pa"ss\\word'}
    text = json.dumps(document)
    assert quoted.json_document(text, json.loads(text)) == {"a": "x ***"}


def test_obj_shared_masks_as_obj_does_and_shares_only_what_it_leaves_alone() -> None:
    redactor = Redactor([TOKEN])
    clean = {"nodeid": "recovery::health", "groups": [{"name": "response", "reasons": []}]}
    dirty = {"message": f"token {TOKEN} leaked", "tags": ["a", TOKEN], 7: "seven"}
    payload = {"tests": [clean, dirty], "pair": ("x", TOKEN), "count": 3}

    shared = redactor.obj_shared(payload)

    assert shared == redactor.obj(payload)
    assert shared["tests"][0] is clean  # nothing to mask: the very same dict, not a copy
    assert shared["tests"][1] is not dirty and dirty["message"] == f"token {TOKEN} leaked"
    assert shared["tests"][1] == {
        "message": f"token {MASK} leaked",
        "tags": ["a", MASK],
        "7": "seven",
    }
    assert shared["pair"] == ["x", MASK]
    assert shared is not payload and payload["pair"] == ("x", TOKEN)
    untouched = {"a": [1, {"b": "c"}]}
    assert redactor.obj_shared(untouched) is untouched
