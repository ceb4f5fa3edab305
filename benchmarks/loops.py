"""The baselines of benchmark 2: the same GETs as ``recovery-bundle verify``, in plain loops.

Each loop requests ``/health``, ``/api/v1/dashboard/summary`` and ``/api/v1/matchups/{id}`` for
every id (the id percent-encoded as one path segment, ``quote(id, safe="")``), parses every body
as JSON and checks the same things the default endpoint checks do (200; ``status == "ok"``; a JSON
object; ``matchup_id`` equal to the requested id). It returns how many requests passed.

Used in-process by ``run.py`` (the capture phase alone) and as a whole process::

    python benchmarks/loops.py urllib|http.client|httpx|httpx-lean|httpx-async BASE_URL IDS_JSON

(exit 0 when every request passed, 1 otherwise). Only the standard library is imported at the
top, so the ``urllib`` process pays for nothing else — like the original script.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = [
    "LOOPS",
    "Request",
    "http_client_loop",
    "httpx_async_loop",
    "httpx_lean_loop",
    "httpx_loop",
    "requests_for",
    "urllib_loop",
]

ASYNC_IN_FLIGHT = 8
TIMEOUT_S = 10.0

Request = tuple[str, str | None]
"""A URL and, for a matchup URL, the id its body must name."""


def requests_for(base_url: str, matchup_ids: Sequence[str]) -> list[Request]:
    """The GETs verify makes with the default endpoints, in the same order."""
    requests: list[Request] = [
        (base_url + "/health", None),
        (base_url + "/api/v1/dashboard/summary", None),
    ]
    requests += [
        (base_url + "/api/v1/matchups/" + quote(matchup_id, safe=""), matchup_id)
        for matchup_id in matchup_ids
    ]
    return requests


def _passes(status: int, body: bytes, expected_id: str | None) -> bool:
    if status != 200:
        return False
    try:
        document: Any = json.loads(body)
    except ValueError:
        return False
    if not isinstance(document, dict):
        return False
    if expected_id is not None:
        return bool(document.get("matchup_id") == expected_id)
    return True


def urllib_loop(requests: Sequence[Request]) -> int:
    """The original script's way: one ``urllib.request.urlopen`` (one connection) per URL."""
    import urllib.error
    import urllib.request

    passed = 0
    for url, expected_id in requests:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                passed += _passes(response.status, response.read(), expected_id)
        except (urllib.error.URLError, OSError):
            continue
    return passed


def http_client_loop(requests: Sequence[Request]) -> int:
    """One keep-alive ``http.client.HTTPConnection``, one request at a time (the bare floor)."""
    import http.client
    from urllib.parse import urlsplit

    passed = 0
    connection: http.client.HTTPConnection | None = None
    for url, expected_id in requests:
        parts = urlsplit(url)
        if connection is None:
            connection = http.client.HTTPConnection(parts.netloc, timeout=TIMEOUT_S)
        try:
            connection.request("GET", parts.path, headers={"Accept": "application/json"})
            response = connection.getresponse()
            passed += _passes(response.status, response.read(), expected_id)
            if response.will_close:
                connection.close()
                connection = None
        except (OSError, http.client.HTTPException):
            if connection is not None:
                connection.close()
            connection = None
    if connection is not None:
        connection.close()
    return passed


def httpx_loop(requests: Sequence[Request], transport: Any = None) -> int:
    """One keep-alive ``httpx.Client``, one request at a time."""
    import httpx

    passed = 0
    with httpx.Client(timeout=TIMEOUT_S, transport=transport) as client:
        for url, expected_id in requests:
            try:
                response = client.get(url)
            except httpx.HTTPError:
                continue
            passed += _passes(response.status_code, response.content, expected_id)
    return passed


def httpx_lean_loop(requests: Sequence[Request]) -> int:
    """``httpx_loop`` over the project's ``LeanTransport`` (``http.client`` underneath)."""
    from recovery_plugin.http.transport import LeanTransport

    return httpx_loop(requests, LeanTransport(max_body_bytes=10 * 1024 * 1024))


def httpx_async_loop(requests: Sequence[Request]) -> int:
    """One ``httpx.AsyncClient``, ``ASYNC_IN_FLIGHT`` requests in flight."""
    import asyncio

    import httpx

    async def run() -> int:
        limits = httpx.Limits(
            max_connections=ASYNC_IN_FLIGHT, max_keepalive_connections=ASYNC_IN_FLIGHT
        )
        gate = asyncio.Semaphore(ASYNC_IN_FLIGHT)
        async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits) as client:

            async def one(url: str, expected_id: str | None) -> bool:
                async with gate:
                    try:
                        response = await client.get(url)
                    except httpx.HTTPError:
                        return False
                    return _passes(response.status_code, response.content, expected_id)

            results = await asyncio.gather(*(one(url, mid) for url, mid in requests))
        return sum(results)

    return asyncio.run(run())


LOOPS: dict[str, Callable[[Sequence[Request]], int]] = {
    "urllib": urllib_loop,
    "http.client": http_client_loop,
    "httpx": httpx_loop,
    "httpx-lean": httpx_lean_loop,
    "httpx-async": httpx_async_loop,
}


def main(argv: Sequence[str]) -> int:
    if len(argv) != 3 or argv[0] not in LOOPS:
        print(f"usage: loops.py {'|'.join(LOOPS)} BASE_URL IDS_JSON", file=sys.stderr)
        return 2
    kind, base_url, ids_file = argv
    matchup_ids = json.loads(Path(ids_file).read_text(encoding="utf-8"))
    requests = requests_for(base_url, matchup_ids)
    passed = LOOPS[kind](requests)
    print(f"{kind}: {passed} of {len(requests)} requests passed")
    return 0 if passed == len(requests) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
