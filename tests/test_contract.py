"""Contract checks: JSON Schema files and the service's OpenAPI document (3.0 and 3.1)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recovery_plugin.errors import ConfigError
from recovery_plugin.http.contract import (
    OpenAPILoader,
    check_openapi,
    check_schema,
    load_schema_file,
)
from recovery_plugin.http.openapi_doc import OpenAPIDocument, OpenAPILoad

MATCHUP = "/api/v1/matchups/{matchup_id}"
CONCRETE = "/api/v1/matchups/20260603%7C%EA%B4%91%EC%97%AD%7C11-000"


def doc31() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            MATCHUP: {
                "get": {
                    "responses": {
                        "200": {"$ref": "#/components/responses/Matchup"},
                        "4XX": {
                            "description": "client error",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Error"}
                                }
                            },
                        },
                        "default": {"description": "anything", "content": {"text/html": {}}},
                    }
                }
            },
            "/api/v1/matchups/latest": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {"type": "array"}}},
                        }
                    }
                }
            },
        },
        "components": {
            "responses": {
                "Matchup": {
                    "description": "ok",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Matchup"}}
                    },
                }
            },
            "schemas": {
                "Matchup": {
                    "type": "object",
                    "required": ["matchup_id", "options"],
                    "properties": {
                        "matchup_id": {"type": "string"},
                        "margin_of_error": {"type": ["number", "null"]},
                        "options": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Option"},
                        },
                    },
                },
                "Option": {"type": "object", "properties": {"value_mid": {"type": "number"}}},
                "Error": {
                    "type": "object",
                    "required": ["detail"],
                    "properties": {"detail": {"type": "string"}},
                },
            },
        },
    }


def loaded(document: dict[str, Any]) -> OpenAPILoad:
    return OpenAPILoad("mem", document=OpenAPIDocument(document, "mem", "0" * 64), sha256="0" * 64)


GOOD = {"matchup_id": "x", "margin_of_error": None, "options": [{"value_mid": 1.5}]}


def test_a_conforming_response_passes_through_refs() -> None:
    result = check_openapi(loaded(doc31()), CONCRETE, 200, GOOD)
    assert (result.outcome, result.reasons, result.sha256) == ("passed", (), "0" * 64)


def test_a_violation_names_the_field_and_the_rule() -> None:
    body = {"matchup_id": 7, "options": [{"value_mid": 1}, {"value_mid": "abc"}]}
    result = check_openapi(loaded(doc31()), CONCRETE, 200, body)
    assert result.outcome == "failed"
    assert result.reasons == (
        f"GET {MATCHUP} 200: $.matchup_id: 7 is not of type 'string'",
        f"GET {MATCHUP} 200: $.options[1].value_mid: 'abc' is not of type 'number'",
    )


def test_status_lookup_exact_then_class_then_default() -> None:
    document = loaded(doc31())
    assert (
        check_openapi(document, CONCRETE, 404, {"detail": "matchup not found"}).outcome == "passed"
    )
    bad_error = check_openapi(document, CONCRETE, 404, {"message": "x"})
    assert bad_error.reasons == (f"GET {MATCHUP} 4XX: $: 'detail' is a required property",)
    html = check_openapi(document, CONCRETE, 500, None)
    assert (html.outcome, html.note) == (
        "skipped",
        f"GET {MATCHUP} default declares no JSON schema",
    )


def test_literal_paths_win_over_templates() -> None:
    result = check_openapi(loaded(doc31()), "/api/v1/matchups/latest", 200, {"not": "an array"})
    assert result.reasons == (
        "GET /api/v1/matchups/latest 200: $: {'not': 'an array'} is not of type 'array'",
    )


def test_undeclared_paths_methods_and_statuses_are_skipped_with_a_note() -> None:
    document = doc31()
    del document["paths"][MATCHUP]["get"]["responses"]["default"]
    load = loaded(document)
    assert (
        check_openapi(load, "/health", 200, {}).note
        == "/health is not declared in the OpenAPI document"
    )
    assert check_openapi(load, "/api/v1/matchups/a/b", 200, {}).outcome == "skipped"
    assert check_openapi(load, CONCRETE, 200, GOOD, method="POST").note == (
        f"POST {MATCHUP} is not declared in the OpenAPI document"
    )
    assert (
        check_openapi(load, CONCRETE, 503, {}).note
        == f"GET {MATCHUP} declares no response for status 503"
    )


def test_server_base_path_is_stripped() -> None:
    document = doc31()
    document["servers"] = [{"url": "https://example.invalid/prefix"}]
    assert check_openapi(loaded(document), "/prefix" + CONCRETE, 200, GOOD).outcome == "passed"


def test_openapi_30_nullable_and_draft4_keywords() -> None:
    document = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/health": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/H"}}
                            },
                        }
                    }
                }
            }
        },
        "components": {
            "schemas": {
                "H": {
                    "type": "object",
                    "properties": {
                        "as_of": {"type": "string", "nullable": True},
                        "state": {"type": "string", "enum": ["ok"], "nullable": True},
                        "count": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
                        "nested": {"allOf": [{"$ref": "#/components/schemas/N"}], "nullable": True},
                        "strict": {"type": "string"},
                    },
                },
                "N": {"type": "object", "required": ["a"]},
            }
        },
    }
    load = loaded(document)
    ok = {"as_of": None, "state": None, "count": 1, "nested": None, "strict": "s"}
    assert check_openapi(load, "/health", 200, ok).outcome == "passed"
    bad = check_openapi(load, "/health", 200, {"strict": None, "count": 0, "nested": {}})
    assert bad.reasons == (
        "GET /health 200: $.count: 0 is less than or equal to the minimum of 0",
        "GET /health 200: $.nested: 'a' is a required property",
        "GET /health 200: $.strict: None is not of type 'string'",
    )


def test_not_an_openapi_document() -> None:
    with pytest.raises(ValueError, match=r"not an OpenAPI 3.0/3.1 document \(openapi: 2.0\)"):
        OpenAPIDocument({"swagger": "2.0", "openapi": "2.0", "paths": {}}, "s", "h")


# --- loading ----------------------------------------------------------------------------------


def client(status: int, content: bytes, requests: list[str] | None = None) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        if requests is not None:
            requests.append(str(request.url))
        return httpx.Response(status, content=content)

    return httpx.Client(transport=httpx.MockTransport(handler))


URL = "http://127.0.0.1:8100/openapi.json"


def test_load_from_a_url_once_per_run_with_its_hash() -> None:
    raw = json.dumps(doc31()).encode()
    requests: list[str] = []
    loader = OpenAPILoader(client=client(200, raw, requests))
    first = loader.get(URL)
    assert loader.get(URL) is first and requests == [URL]
    assert first.sha256 == hashlib.sha256(raw).hexdigest()
    result = check_openapi(first, CONCRETE, 200, GOOD)
    assert (result.outcome, result.source, result.sha256) == ("passed", URL, first.sha256)


def test_a_document_that_is_not_served_is_skipped_with_a_note() -> None:
    load = OpenAPILoader(client=client(404, b'{"detail": "Not Found"}')).get(URL)
    assert load.missing
    result = check_openapi(load, CONCRETE, 200, GOOD)
    assert result.outcome == "skipped"
    assert result.note == f"the service does not serve {URL} (404): contract not checked"


@pytest.mark.parametrize(
    ("status", "content", "problem"),
    [
        (500, b"{}", f"the OpenAPI document {URL} answered status 500"),
        (200, b"<html>", f"the OpenAPI document {URL} is unusable: Expecting value"),
        (
            200,
            b'{"openapi": "3.1.0"}',
            f"the OpenAPI document {URL} is unusable: not an OpenAPI 3.0/3.1 document",
        ),
    ],
)
def test_an_unusable_document_fails_the_contract_checks(
    status: int, content: bytes, problem: str
) -> None:
    load = OpenAPILoader(client=client(status, content)).get(URL)
    result = check_openapi(load, CONCRETE, 200, GOOD)
    assert result.outcome == "failed"
    assert result.reasons[0].startswith(problem)


def test_an_oversized_document_from_a_callers_client_is_not_read_whole() -> None:
    from recovery_plugin.http.openapi_doc import MAX_DOCUMENT_BYTES

    chunk = b" " * (1024 * 1024)
    sent: list[int] = []

    def oversized() -> Iterator[bytes]:
        for _ in range(MAX_DOCUMENT_BYTES // len(chunk) + 30):
            sent.append(len(chunk))
            yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=oversized())

    load = OpenAPILoader(client=httpx.Client(transport=httpx.MockTransport(handler))).get(URL)
    assert load.problem == f"the OpenAPI document {URL} is over {MAX_DOCUMENT_BYTES} bytes"
    assert load.sha256 is None  # only a part was read: it has no hash of its own
    assert sum(sent) <= MAX_DOCUMENT_BYTES + 2 * len(chunk)


def test_an_oversized_document_file_is_refused_after_reading_past_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import recovery_plugin.http.openapi_doc as openapi_doc

    monkeypatch.setattr(openapi_doc, "MAX_DOCUMENT_BYTES", 1000)
    path = tmp_path / "openapi.json"
    path.write_bytes(b" " * 5000 + json.dumps(doc31()).encode())
    read: list[int] = []
    real_open = Path.open

    def counting_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, *args, **kwargs)
        real_read = handle.read
        handle.read = lambda size=-1: read.append(size) or real_read(size)  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr(Path, "open", counting_open)
    load = OpenAPILoader().get(str(path))
    assert load.problem == f"the OpenAPI document {path} is over 1000 bytes"
    assert read == [1001]


def test_an_unreachable_document_fails_with_the_reason() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    load = OpenAPILoader(client=httpx.Client(transport=httpx.MockTransport(refuse))).get(URL)
    assert load.problem == f"cannot fetch the OpenAPI document {URL}: connection refused"


def test_load_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(doc31()), encoding="utf-8")
    load = OpenAPILoader().get(str(path))
    assert load.document is not None and load.document.version == "3.1.0"
    missing = OpenAPILoader().get(str(tmp_path / "nope.json"))
    assert missing.problem is not None and missing.problem.startswith(
        "cannot read the OpenAPI document"
    )


# --- JSON Schema files ------------------------------------------------------------------------

WHERE = "recovery.toml: endpoints[2].expect_schema"


def test_schema_file_with_a_relative_ref(tmp_path: Path) -> None:
    (tmp_path / "option.json").write_text(
        json.dumps({"type": "object", "properties": {"value_mid": {"type": "number"}}})
    )
    schema = {
        "type": "object",
        "properties": {"options": {"type": "array", "items": {"$ref": "option.json"}}},
    }
    (tmp_path / "matchup.json").write_text(json.dumps(schema))
    contract = load_schema_file(tmp_path / "matchup.json", WHERE)
    assert check_schema(contract, {"options": [{"value_mid": 2}]}).outcome == "passed"
    result = check_schema(contract, {"options": [{"value_mid": "abc"}]})
    assert result.outcome == "failed"
    assert result.reasons == ("$.options[0].value_mid: 'abc' is not of type 'number'",)
    assert result.sha256 == hashlib.sha256((tmp_path / "matchup.json").read_bytes()).hexdigest()


def test_schema_file_draft_from_dollar_schema(tmp_path: Path) -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "integer",
        "minimum": 0,
        "exclusiveMinimum": True,
    }
    (tmp_path / "s.json").write_text(json.dumps(schema))
    contract = load_schema_file(tmp_path / "s.json", WHERE)
    assert check_schema(contract, 0).reasons == ("$: 0 is less than or equal to the minimum of 0",)


def test_many_violations_are_capped(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps({"type": "array", "items": {"type": "string"}}))
    result = check_schema(load_schema_file(tmp_path / "s.json", WHERE), list(range(15)))
    assert len(result.reasons) == 11 and result.reasons[-1] == "5 more violations"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read JSON Schema"),
        ("{not json", "is not valid JSON"),
        (
            '{"type": "strnig"}',
            "is not a valid JSON Schema: 'strnig' is not valid under any of the given schemas",
        ),
    ],
)
def test_bad_schema_file_is_a_config_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "s.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_schema_file(path, WHERE)
    assert info.value.message.startswith(WHERE + ": ")
    assert message in info.value.message


def test_importing_the_check_modules_stays_light() -> None:
    probe = (
        "import sys\n"
        "import recovery_plugin.http.contract, recovery_plugin.http.poll, recovery_plugin.http.latency\n"
        "import recovery_plugin.http.assertions, recovery_plugin.http.effect\n"
        "print(sorted(m for m in ('jsonschema', 'jsonpath', 'httpx', 'tenacity', 'pytest') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
