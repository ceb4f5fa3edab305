"""Benchmarks of issue 5, measured side by side in one run against the simulated service.

    python benchmarks/run.py            # full run (about 3 minutes): prints the tables
    python benchmarks/run.py --quick    # smoke variant with small N (about 30 seconds)
    python benchmarks/run.py --write    # full run, then rewrite docs/performance.md

1. start-up: ``recovery-bundle --help`` and ``run --mode dry-run`` vs ``python -c "import click"``;
2. ``verify`` with 1,000 matchup ids vs a sequential urllib loop (one ``urlopen`` per URL, the
   original script's way) and a keep-alive ``httpx.Client`` loop: whole process, and the capture
   phase alone (``capture_all`` in-process vs the loops in-process);
3. ``run --mode apply`` with 50 ids whose reprocess takes 0.5 s: ``--jobs 8`` vs ``--jobs 1``;
4. peak RSS of the launcher: ``verify`` with 1,000 ids, and with a 200 MB summary body.

Every ratio divides a median by the median of its section's baseline measured in the same run.
Exit status: 0 when every measurement ran (whatever the targets say), 1 when one did not.
"""

from __future__ import annotations

import sys

from bench_cli import main

if __name__ == "__main__":
    sys.exit(main(doc=__doc__))
