"""Reading a response body up to a cap, in memory bounded by the cap whatever the encoding.

httpx inflates a gzip body one received chunk at a time, without a bound: a 64 KiB chunk of a
gzip bomb becomes ~64 MB at once (and 200 MB of zeros compress to 200 KB). A gzip body is
therefore inflated here from the raw bytes, never more than the room left under the cap.
"""

from __future__ import annotations

import zlib

import httpx

__all__ = ["read_capped"]

_GZIP_WBITS = zlib.MAX_WBITS | 16


def read_capped(response: httpx.Response, max_body: int) -> tuple[bytes, bool]:
    """The body's first ``max_body`` bytes (decoded), and whether there was more."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return _inflate_capped(response, max_body)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        room = max_body - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def _inflate_capped(response: httpx.Response, max_body: int) -> tuple[bytes, bool]:
    inflater = zlib.decompressobj(_GZIP_WBITS)
    chunks: list[bytes] = []
    size = 0
    try:
        for raw in response.iter_raw():
            data = raw
            while data and not inflater.eof:
                room = max_body - size
                out = inflater.decompress(data, room + 1)  # never more than the cap's room
                data = inflater.unconsumed_tail
                if len(out) > room:
                    chunks.append(out[:room])
                    return b"".join(chunks), True
                chunks.append(out)
                size += len(out)
        out = inflater.flush()
    except zlib.error as exc:
        raise httpx.DecodingError(f"the gzip body cannot be inflated: {exc}") from exc
    if size + len(out) > max_body:
        chunks.append(out[: max_body - size])
        return b"".join(chunks), True
    chunks.append(out)
    return b"".join(chunks), False
