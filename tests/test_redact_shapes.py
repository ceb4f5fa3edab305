"""One redactor, a table of shapes a secret takes on its way out; values it cannot mask safely."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from recovery_plugin.redact import (
    MASK,
    MIN_SECRET_LENGTH,
    Redactor,
    Secret,
    find_secrets,
    unmaskable_reason,
    url_secrets,
)

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
    "-----END PRIVATE KEY-----\n"
)
PEM_LINES = PEM.splitlines()[1:3]
QUOTED = 'pa"ss\\wo\u0159d-\uc11c\uc6b8'  # a quote, a backslash and non-ASCII
API_BASE = "https://ops:api-base-pw-77@svc.internal:8443/api"
BASIC = base64.b64encode(b"ops:api-base-pw-77").decode()


def _masked(secrets: list[str], text: str) -> str:
    return Redactor(secrets).text(text)


# Each row: the secrets the redactor knows, a text as some writer would write it, what must not
# survive, and (where exact output matters) the expected text.
SHAPES: list[tuple[str, list[str], str, list[str], str | None]] = [
    ("pem-whole", [PEM], f"key:\n{PEM}done", PEM_LINES, f"key:\n{MASK}done"),
    (
        "pem-line-by-line",  # a step log is written a line at a time
        [PEM],
        PEM_LINES[0] + "\n",
        PEM_LINES,
        f"{MASK}\n",
    ),
    ("pem-in-json", [PEM], json.dumps({"key": PEM}), PEM_LINES, json.dumps({"key": MASK})),
    ("json-escaped", [QUOTED], json.dumps({"pw": QUOTED}), ["ss\\\\wo", "wo\\u0159d"], None),
    (
        "json-escaped-non-ascii-kept",
        [QUOTED],
        json.dumps({"pw": QUOTED}, ensure_ascii=False),
        ['pa\\"ss', "\uc11c\uc6b8"],
        None,
    ),
    ("percent-encoded", [QUOTED], "q=" + quote(QUOTED, safe=""), [quote(QUOTED, safe="")], None),
    ("header-line", [], "Authorization: Bearer abc.def.ghi", ["abc.def"], f"Authorization: {MASK}"),
    ("header-lowercase", [], "authorization: basic dXNlcjpwdw==", ["dXNl"], None),
    ("header-equals", [], "authorization=Token tkn-51&next=1", ["tkn-51"], None),
    (
        "json-key",
        [],
        '{"authorization": "Bearer opaque-1", "x": 1}',
        ["opaque-1"],
        f'{{"authorization": "{MASK}", "x": 1}}',
    ),
    (
        "json-escaped-json-key",  # a JSON document logged inside another JSON string
        [],
        json.dumps({"log": json.dumps({"Authorization": "Bearer nested-tok-1"})}),
        ["nested-tok-1"],
        None,
    ),
    (
        "python-repr",
        [],
        "{'Authorization': 'Basic Zm9vOmJhcg==', 'Accept': '*/*'}",
        ["Zm9vOmJhcg"],
        f"{{'Authorization': '{MASK}', 'Accept': '*/*'}}",
    ),
    (
        "curl-single-quotes",
        [],
        "curl -H 'Authorization: Bearer t0k3n-x' -H 'Accept: application/json' http://h",
        ["t0k3n-x"],
        f"curl -H 'Authorization: {MASK}' -H 'Accept: application/json' http://h",
    ),
    (
        "curl-double-quotes",
        [],
        'curl -H "proxy-authorization: Basic cHJveHk6cHc=" http://h',
        ["cHJveHk6cHc"],
        f'curl -H "proxy-authorization: {MASK}" http://h',
    ),
    (
        "bearer-anywhere",
        [],
        "retrying with Bearer eyJhbGciOiJIUzI1NiJ9.e30.x in 2s",
        ["eyJhbGci"],
        f"retrying with Bearer {MASK} in 2s",
    ),
    ("api-base-basic", url_secrets(API_BASE), f"echo: {BASIC}", [BASIC], f"echo: {MASK}"),
    (
        "api-base-password-alone",
        url_secrets(API_BASE),
        '{"password": "api-base-pw-77"}',
        ["api-base-pw-77"],
        f'{{"password": "{MASK}"}}',
    ),
    (
        "url-userinfo",
        [],
        f"GET {API_BASE}/x",
        ["api-base-pw-77"],
        f"GET https://{MASK}@svc.internal:8443/api/x",
    ),
    (
        "url-userinfo-with-at",  # an unescaped '@' in the password: mask up to the last one
        [],
        "redis://user:p@ss@cache:6379/0",
        ["p@ss", "ss@"],
        f"redis://{MASK}@cache:6379/0",
    ),
    (
        "url-in-json-then-mail",
        [],
        '["http://host/x", "ops@example.com"]',
        [],
        '["http://host/x", "ops@example.com"]',
    ),
    (
        "database-url-password",  # a secret URL: its password alone is masked too
        ["postgresql://app:hunter2-db-pw@db:5432/polls"],
        "connecting with password hunter2-db-pw",
        ["hunter2-db-pw"],
        f"connecting with password {MASK}",
    ),
]


@pytest.mark.parametrize(
    ("secrets", "text", "leaks", "expected"),
    [row[1:] for row in SHAPES],
    ids=[row[0] for row in SHAPES],
)
def test_every_shape_of_a_secret_is_masked(
    secrets: list[str], text: str, leaks: list[str], expected: str | None
) -> None:
    masked = _masked(secrets, text)

    for leak in leaks:
        assert leak not in masked
    if expected is not None:
        assert masked == expected


def test_a_masked_json_document_stays_valid_json() -> None:
    redactor = Redactor([QUOTED, PEM])
    document = {"pw": QUOTED, "key": PEM, "both": f"{QUOTED} and {PEM}", "n": 1}

    for text in (json.dumps(document), json.dumps(document, ensure_ascii=False)):
        assert json.loads(redactor.text(text)) == {
            "pw": MASK,
            "key": MASK,
            "both": f"{MASK} and {MASK}",
            "n": 1,
        }


def test_headers_named_like_secrets_are_masked_whole_and_others_by_value() -> None:
    redactor = Redactor(["echoed-token-123"])

    headers = redactor.headers(
        {
            "X-Api-Key": "k",
            "X-Auth-Token": "t",
            "X-Session-Id": "s",
            "X-Echo": "got echoed-token-123",
            "WWW-Authenticate": 'Bearer realm="api"',
            "Content-Length": "12",
        }
    )

    assert headers == {
        "X-Api-Key": MASK,
        "X-Auth-Token": MASK,
        "X-Session-Id": MASK,
        "X-Echo": f"got {MASK}",
        "WWW-Authenticate": 'Bearer realm="api"',
        "Content-Length": "12",
    }


# --- values that cannot be masked safely ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1", "too short"),
        ("true", "too short"),
        ("admin", "too short"),
        ("hunter2", "too short"),
        ("12345678", "too common: a plain number"),
        ("-3.14159265", "too common: a plain number"),
        ("password", "too common: a well-known word"),
        ("LOCALHOST", "too common: a well-known word"),
        ("   ", "too short"),
    ],
)
def test_a_value_too_short_or_too_common_is_unmaskable(value: str, reason: str) -> None:
    assert (unmaskable_reason(value) or "").startswith(reason)


@pytest.mark.parametrize(
    "value", ["hunter2!", "s3cr3t-pw", "1234567890123456", "서울시장-비밀번호"]
)
def test_a_distinctive_value_is_maskable(value: str) -> None:
    assert unmaskable_reason(value) is None


def test_an_unmaskable_value_is_left_alone_so_healthy_data_is_not_corrupted() -> None:
    # A variable named like a secret whose value is a word and a number all over healthy output.
    redactor = Redactor(["true", "admin", "8100", "password"])

    text = '{"ok": true, "role": "admin", "port": 8100, "label": "password"}'

    assert redactor.text(text) == text
    assert MIN_SECRET_LENGTH == 8


def test_secrets_come_from_every_env_table_and_say_where_they_were_set() -> None:
    tables = {
        "environment": {"INTERNAL_JOB_TOKEN": "tok-from-env-1", "HOME": "/root"},
        "env": {"DB_PASSWORD": "runbook-level-pw"},
        "steps.ingest.env": {"INGEST_API_KEY": "step-level-key-1", "MODE": "fast"},
        "steps.reprocess.env": {"LISTED": "listed-value-9", "SHORT_SECRET": "abc"},
    }

    secrets = find_secrets(tables, ["LISTED"])

    assert secrets == [
        Secret("environment", "INTERNAL_JOB_TOKEN", "tok-from-env-1"),
        Secret("env", "DB_PASSWORD", "runbook-level-pw"),
        Secret("steps.ingest.env", "INGEST_API_KEY", "step-level-key-1"),
        Secret("steps.reprocess.env", "LISTED", "listed-value-9"),
        Secret("steps.reprocess.env", "SHORT_SECRET", "abc"),
    ]
    assert secrets[0].where == "INTERNAL_JOB_TOKEN"
    assert secrets[4].where == "steps.reprocess.env.SHORT_SECRET"
    assert [(s.where, s.unmaskable) for s in secrets if s.unmaskable] == [
        ("steps.reprocess.env.SHORT_SECRET", "too short: under 8 characters")
    ]
    redactor = Redactor(s.value for s in secrets)
    assert redactor.text("step-level-key-1 runbook-level-pw") == f"{MASK} {MASK}"


def test_url_secrets_of_an_address_without_credentials_is_empty() -> None:
    assert url_secrets("http://127.0.0.1:8100") == []
    assert url_secrets("not a url") == []


def test_masking_returns_copies_and_never_touches_what_is_judged() -> None:
    redactor = Redactor(["tok-123456789"])
    body = {"token": "tok-123456789", "items": [{"t": "tok-123456789"}]}
    headers = {"X-Echo": "tok-123456789"}

    masked_body = redactor.obj(body)
    masked_headers = redactor.headers(headers)

    assert masked_body == {"token": MASK, "items": [{"t": MASK}]}
    assert masked_headers == {"X-Echo": MASK}
    assert body == {"token": "tok-123456789", "items": [{"t": "tok-123456789"}]}
    assert headers == {"X-Echo": "tok-123456789"}


def test_a_secret_too_short_to_mask_is_named_in_the_preflight_not_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run says where an unmaskable secret is set, and healthy output stays untouched."""
    from recovery_plugin.resolve.context import RunRequest, resolve_run

    (tmp_path / "recovery.toml").write_text(
        '[steps.ingest.env]\nDB_PASSWORD = "admin"\n', encoding="utf-8"
    )
    context = resolve_run(
        RunRequest(
            mode="dry-run",
            cwd=tmp_path,
            environ={"INTERNAL_JOB_TOKEN": "tok-9f8e7d6c5b4a3210", "API_KEY": "1"},
        )
    )
    assert set(context.unmasked_secrets) == {
        "steps.ingest.env.DB_PASSWORD: not masked: too short: under 8 characters",
        "API_KEY: not masked: too short: under 8 characters",
    }
    report = context.start_report().to_dict()
    assert report["unmasked_secrets"] == list(context.unmasked_secrets)
    assert context.redactor.text('{"admin": 1, "token": "tok-9f8e7d6c5b4a3210"}') == (
        '{"admin": 1, "token": "***"}'
    )
