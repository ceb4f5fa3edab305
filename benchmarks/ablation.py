"""A/B of the verification session's per-item savings, in one run, rounds interleaved.

Each variant is ``recovery-bundle verify`` in a child process with one saving undone:

- ``as shipped``: the cheap protocol, built-in plugins off, ``--tb=line``;
- ``pytest's own protocol``: every check through setup/call/teardown;
- ``built-in plugins on``: warnings, doctest, pastebin and stepwise loaded again;
- ``checks after all captures``: no check starts before the last capture is in (the checks do not
  compete with the capture threads for the interpreter lock, but nothing overlaps).

Usage: ``python benchmarks/ablation.py --api-base URL --ids FILE [--rounds 5]`` (the ids should
fail, e.g. unknown matchup ids: a 404 costs the server little, so the harness dominates).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

_PRELUDE = {
    "as shipped": "",
    "pytest's own protocol": (
        "from recovery_plugin.pytest_plugin import protocol\n"
        "protocol.CheapProtocol.applies = lambda self, item: False\n"
    ),
    "built-in plugins on": (
        "from recovery_plugin.run import verification\n"
        "_args = verification._session_args\n"
        "_off = {'no:warnings', 'no:doctest', 'no:pastebin', 'no:stepwise'}\n"
        "def _session_args(context, ini):\n"
        "    args = _args(context, ini)\n"
        "    kept = []\n"
        "    for arg in args:\n"
        "        if arg in _off:\n"
        "            kept.pop()\n"
        "        else:\n"
        "            kept.append(arg)\n"
        "    return kept\n"
        "verification._session_args = _session_args\n"
    ),
    "checks after all captures": (
        "from recovery_plugin.http import batch\n"
        "_get = batch.CaptureBatch.get\n"
        "def get(self, target):\n"
        "    self._thread.join()\n"
        "    return _get(self, target)\n"
        "batch.CaptureBatch.get = get\n"
    ),
}


def _run(variant: str, api_base: str, ids: str, out: str) -> tuple[float, float]:
    code = (
        _PRELUDE[variant] + "import sys\nfrom recovery_plugin.cli import main\n"
        "sys.argv = ['recovery-bundle'] + sys.argv[1:]\nmain()\n"
    )
    argv = [sys.executable, "-c", code, "verify", "--api-base", api_base]
    argv += ["--matchup-file", ids, "--output-dir", out]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-base", required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in _PRELUDE}
    env_out = tempfile.mkdtemp(prefix="recovery-ablation-")
    for round_no in range(args.rounds):
        order = list(_PRELUDE)
        order = order[round_no % len(order) :] + order[: round_no % len(order)]
        for name in order:
            samples[name].append(_run(name, args.api_base, args.ids, str(Path(env_out) / "o")))
    base_wall = statistics.median(w for w, _ in samples["as shipped"])
    base_cpu = statistics.median(c for _, c in samples["as shipped"])
    print("| variant | wall (median) | CPU (median) | wall vs shipped | CPU vs shipped |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, runs in samples.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(
            f"| {name} | {wall:.2f} s | {cpu:.2f} s | {wall / base_wall:.2f}x | {cpu / base_cpu:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
