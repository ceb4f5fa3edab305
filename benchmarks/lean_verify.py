"""``recovery-bundle`` with the capture client on ``LeanTransport`` (a benchmark diagnostic).

    python benchmarks/lean_verify.py verify --config ... [--api-base URL] ...

The only change from ``python -m recovery_plugin``: ``http.capture.make_client`` builds its client
with ``transport=LeanTransport(max_body_bytes=spec.max_body_bytes)`` and otherwise the same timeout,
redirect limit and headers — the change the integration would make (see docs/performance.md).
"""

from __future__ import annotations

from typing import Any

import httpx

from recovery_plugin.http import capture
from recovery_plugin.http.transport import LeanTransport


def make_client(spec: Any, *, timeout: float | None = None) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(timeout if timeout is not None else spec.timeout),
        follow_redirects=True,
        max_redirects=spec.max_redirects,
        headers={"Accept": "application/json", "User-Agent": "recovery-bundle"},
        transport=LeanTransport(
            max_body_bytes=spec.max_body_bytes, max_idle_per_origin=max(1, spec.concurrency)
        ),
    )


capture.make_client = make_client

if __name__ == "__main__":
    from recovery_plugin.cli import main

    main()
