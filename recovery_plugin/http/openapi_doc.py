"""The service's OpenAPI document: loading it, matching a request path, and the declared schema.

OpenAPI 3.1 schemas are JSON Schema 2020-12; 3.0 schemas are read as draft 4 with
``nullable: true`` turned into a ``null`` alternative. ``$ref``s resolve within the document.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from recovery_plugin.records import dataclass

if TYPE_CHECKING:
    from recovery_plugin.config import EndpointSpec

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "FetchedDocument",
    "OpenAPIDocument",
    "OpenAPILoad",
    "contract_documents",
    "fetch_document",
    "load_openapi",
]

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
_DOC_URI = "urn:recovery-bundle:openapi"


class OpenAPIDocument:
    """A parsed OpenAPI 3.0/3.1 document: finds and applies the schema declared for a response."""

    def __init__(self, document: Mapping[str, Any], source: str, sha256: str) -> None:
        version = str(document.get("openapi", ""))
        if not re.match(r"^3\.[01]\.", version) or not isinstance(document.get("paths"), dict):
            raise ValueError(f"not an OpenAPI 3.0/3.1 document (openapi: {version or 'missing'})")
        self.version = version
        self.source = source
        self.sha256 = sha256
        self.is_30 = version.startswith("3.0.")
        self.document: dict[str, Any] = (
            _nullable_to_null(copy.deepcopy(dict(document))) if self.is_30 else dict(document)
        )
        self._validators: dict[str, Any] = {}
        self._lock = threading.Lock()
        prefixes = [
            urlsplit(str(s.get("url", ""))).path.rstrip("/")
            for s in document.get("servers", [])
            if isinstance(s, dict)
        ]
        self._prefixes = [p for p in prefixes if p]
        self._templates = [(str(t), _template_parts(str(t))) for t in self.document["paths"]]

    def _resolve(self, node: Any) -> Any:
        seen = 0
        while (
            isinstance(node, dict)
            and isinstance(node.get("$ref"), str)
            and node["$ref"].startswith("#/")
        ):
            node = _pointer(self.document, node["$ref"][1:])
            seen += 1
            if seen > 20:
                raise ValueError("$ref cycle")
        return node

    def find_path(self, path: str) -> str | None:
        """The ``paths`` key that serves the concrete ``path`` (literal segments win)."""
        path = path.split("?", 1)[0]
        candidates = [path] + [path[len(p) :] for p in self._prefixes if path.startswith(p + "/")]
        best: tuple[int, str] | None = None
        for concrete in candidates:
            segments = concrete.split("/")
            for template, parts in self._templates:
                if len(parts) != len(segments):
                    continue
                literal = 0
                for part, segment in zip(parts, segments, strict=True):
                    if isinstance(part, str):
                        if part != unquote(segment):
                            break
                        literal += 1
                    elif not part.fullmatch(segment):
                        break
                else:
                    if best is None or literal > best[0]:
                        best = (literal, template)
        return best[1] if best else None

    def response_pointer(
        self, path: str, status: int, method: str = "get"
    ) -> tuple[str | None, str]:
        """(JSON pointer of the declared schema, what was looked up) — pointer None when undeclared."""
        template = self.find_path(path)
        if template is None:
            return None, f"{path} is not declared in the OpenAPI document"
        item = self._resolve(self.document["paths"][template])
        label = f"{method.upper()} {template}"
        if not isinstance(item, dict) or method.lower() not in item:
            return None, f"{label} is not declared in the OpenAPI document"
        responses = self._resolve(item[method.lower()]).get("responses", {})
        for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
            if key in responses:
                break
        else:
            return None, f"{label} declares no response for status {status}"
        response = self._resolve(responses[key])
        content = response.get("content", {}) if isinstance(response, dict) else {}
        media = next((m for m in content if m == "application/json"), None) or next(
            (m for m in content if m.endswith("+json") or m == "*/*"), None
        )
        if media is None or "schema" not in content[media]:
            return None, f"{label} {key} declares no JSON schema"
        if responses[key] is not response:  # the response object itself was a $ref
            base = responses[key]["$ref"][1:]
        else:
            base = f"/paths/{_escape(template)}/{method.lower()}/responses/{_escape(key)}"
        return f"{base}/content/{_escape(media)}/schema", f"{label} {key}"

    def validator(self, pointer: str) -> Any:
        from recovery_plugin.http.fast_schema import Draft, FastPathValidator, compile_validity

        with self._lock:
            cached = self._validators.get(pointer)
            if cached is None:
                draft: Draft = "draft4" if self.is_30 else "draft2020-12"
                cached = FastPathValidator(
                    lambda: self._jsonschema_validator(pointer),
                    compile_validity(self.document, pointer, draft),
                )
                self._validators[pointer] = cached
            return cached

    def _jsonschema_validator(self, pointer: str) -> Any:
        import jsonschema
        import referencing
        import referencing.jsonschema

        spec = referencing.jsonschema.DRAFT4 if self.is_30 else referencing.jsonschema.DRAFT202012
        cls = jsonschema.Draft4Validator if self.is_30 else jsonschema.Draft202012Validator
        registry: referencing.Registry[Any] = referencing.Registry().with_resource(
            _DOC_URI, spec.create_resource(self.document)
        )
        return cls({"$ref": f"{_DOC_URI}#{pointer}"}, registry=registry)


def _template_parts(template: str) -> list[str | re.Pattern[str]]:
    """A ``paths`` key by segment: a literal, or the pattern a segment with ``{...}`` matches."""
    return [
        re.compile(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(part))) if "{" in part else part
        for part in template.split("/")
    ]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(document: Any, pointer: str) -> Any:
    node = document
    for token in pointer.lstrip("/").split("/") if pointer else []:
        token = unquote(token).replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _nullable_to_null(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema: ``null`` also allowed (in place)."""
    if isinstance(node, list):
        return [_nullable_to_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    for key, value in list(node.items()):
        if key not in ("example", "examples", "enum", "default"):
            node[key] = _nullable_to_null(value)
    if node.get("nullable") is True:
        del node["nullable"]
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        else:
            original = dict(node)
            node.clear()
            node["anyOf"] = [original, {"type": "null"}]
    return node


@dataclass(frozen=True)
class OpenAPILoad:
    """The outcome of loading the document once: ``document``, or ``missing``, or ``problem``."""

    source: str
    document: OpenAPIDocument | None = None
    missing: bool = False
    problem: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class FetchedDocument:
    """What a GET of the document answered (its status and body), or why nothing did
    (``problem``, masked). The capture process fetches it beside the captures."""

    status: int | None = None
    content: bytes = b""
    problem: str | None = None


def _document_url(source: str, base_url: str) -> str | None:
    """The URL ``source`` (an endpoint's ``openapi``) is fetched from; None for a file."""
    url = source.replace("{api_base}", base_url)
    return url if url.startswith(("http://", "https://")) else None


def contract_documents(endpoints: Iterable[EndpointSpec], base_url: str) -> list[str]:
    """The URLs of the OpenAPI documents the endpoints' contract checks load (once each)."""
    urls = (_document_url(e.openapi, base_url) for e in endpoints if e.openapi)
    return list(dict.fromkeys(url for url in urls if url))


def fetch_document(
    url: str, *, timeout: float = 10.0, client: Any = None, redact: Callable[[str], str] = str
) -> FetchedDocument:
    """GET the document at ``url`` (over ``client``, or the capture's lean transport). Never
    raises for an unreachable one."""
    import httpx

    try:
        if client is not None:
            return _fetch_capped(client, url, timeout)
        response = _fetch(url, timeout=timeout)
    except httpx.HTTPError as exc:
        shown = redact(url)
        return FetchedDocument(
            problem=f"cannot fetch the OpenAPI document {shown}: {redact(str(exc)) or type(exc).__name__}"
        )
    return FetchedDocument(status=response.status_code, content=response.content)


def _fetch_capped(client: Any, url: str, timeout: float) -> FetchedDocument:
    """GET over a caller's own client, reading no more than one byte past the document's
    bound (the lean transport caps the body itself; a caller's client does not)."""
    chunks: list[bytes] = []
    size = 0
    with client.stream("GET", url, timeout=timeout) as response:
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_DOCUMENT_BYTES:
                break
        return FetchedDocument(status=response.status_code, content=b"".join(chunks))


def load_openapi(
    source: str,
    *,
    timeout: float = 10.0,
    client: Any = None,
    redact: Callable[[str], str] = str,
    fetched: FetchedDocument | None = None,
) -> OpenAPILoad:
    """Fetch (``http(s)://``, unless ``fetched`` is its answer already) or read (a path) the
    document. Never raises for a bad document."""
    shown = redact(source)
    if source.startswith(("http://", "https://")):
        if fetched is None:
            fetched = fetch_document(source, timeout=timeout, client=client, redact=redact)
        if fetched.problem is not None:
            return OpenAPILoad(shown, problem=fetched.problem)
        if fetched.status == 404:
            return OpenAPILoad(shown, missing=True)
        if fetched.status != 200:
            return OpenAPILoad(
                shown,
                problem=f"the OpenAPI document {shown} answered status {fetched.status}",
            )
        raw = fetched.content
    else:
        try:
            with Path(source).open("rb") as handle:
                raw = handle.read(MAX_DOCUMENT_BYTES + 1)  # past the bound is enough to refuse it
        except OSError as exc:
            return OpenAPILoad(
                shown, problem=f"cannot read the OpenAPI document {shown}: {exc.strerror or exc}"
            )
    if len(raw) > MAX_DOCUMENT_BYTES:  # read only in part: no hash of the whole to record
        return OpenAPILoad(
            shown, problem=f"the OpenAPI document {shown} is over {MAX_DOCUMENT_BYTES} bytes"
        )
    digest = hashlib.sha256(raw).hexdigest()
    try:
        document = OpenAPIDocument(json.loads(raw), shown, digest)
    except (ValueError, TypeError) as exc:
        return OpenAPILoad(
            shown, problem=f"the OpenAPI document {shown} is unusable: {exc}", sha256=digest
        )
    return OpenAPILoad(shown, document=document, sha256=digest)


def _fetch(source: str, *, timeout: float) -> Any:
    """GET the document over the capture's lean transport (no httpcore import, body capped)."""
    import httpx

    from recovery_plugin.http.transport import LeanTransport

    transport = LeanTransport(max_body_bytes=MAX_DOCUMENT_BYTES + 1)
    with httpx.Client(transport=transport, timeout=timeout, follow_redirects=True) as client:
        return client.get(source)
