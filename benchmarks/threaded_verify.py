"""``recovery-bundle`` with the capture in this process's threads (a benchmark diagnostic).

    python benchmarks/threaded_verify.py verify --config ... [--api-base URL] ...

The only change from ``python -m recovery_plugin``: ``run_verification`` starts the in-process
``CaptureBatch`` (capture threads sharing the interpreter lock with the checks) instead of the
``ProcessCaptureBatch`` child: the A/B of the child process (see docs/performance.md).
"""

from __future__ import annotations

from recovery_plugin.http import capture_process
from recovery_plugin.http.batch import CaptureBatch

capture_process.ProcessCaptureBatch = CaptureBatch  # type: ignore[misc, assignment]

if __name__ == "__main__":
    from recovery_plugin.cli import main

    main()
