"""The sections of issue 12: ``verify`` and the bare loops on three servers, failing checks at
scale, and start-up without cached bytecode. Driven by ``run.py`` (``Bench``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import servers
import startup

from recovery_plugin.sim.harness import free_port

# run.py drives this module and hands it its Bench; importing run.py back would make a cycle.
Bench = Any
Measure = Callable[[], Any]

HERE = Path(__file__).resolve().parent
LOOPS = str(HERE / "loops.py")
THREADED_VERIFY = str(HERE / "threaded_verify.py")
LOOP_BASELINES = ("urllib loop", "httpx Client loop", "http.client keep-alive loop")


def start_servers(bench: Bench) -> dict[str, str]:
    """Name -> base URL of the three servers (the simulator is already running)."""
    urls = {"stdlib, TCP_NODELAY": bench.service.base_url}
    for kind, name in (
        ("nagle", "stdlib, no TCP_NODELAY"),
        ("uvicorn", "uvicorn (ASGI, 1 worker)"),
    ):
        server = servers.ServerProcess(kind, bench.service.db_path, bench.work, free_port())
        server.start()
        bench.extra_servers.append(server)
        urls[name] = server.base_url
    return urls


def wire_sections(bench: Bench) -> None:
    """Per server: the loops, ``verify``, and ``verify`` capturing in its own threads (diagnostic)."""
    python = bench.python
    ids = str(bench.ids_file)
    n = len(bench.ids)
    for number, (name, base) in enumerate(start_servers(bench).items(), start=1):
        key = f"2w{number}"
        section = bench.section(
            key, f"verify vs the loops, {n:,} ids, {name} (whole process)", "urllib loop",
            also=LOOP_BASELINES[1:],
        )  # fmt: skip
        out = str(bench.work / f"out-wire-{number}")

        def loop(kind: str, base: str = base) -> Measure:
            return lambda: bench.process(f"loop-{kind}", [python, LOOPS, kind, base, ids])

        def verify(threaded: bool, base: str = base, out: str = out) -> Measure:
            argv = [*bench.verify_argv(out), "--api-base", base]
            if threaded:
                argv = [python, THREADED_VERIFY, *argv[3:]]
            return lambda: bench.process("verify-threaded" if threaded else "verify", argv)

        contenders = [
            ("urllib loop", loop("urllib")),
            ("http.client keep-alive loop", loop("http.client")),
            ("httpx Client loop", loop("httpx")),
            ("httpx Client on LeanTransport loop", loop("httpx-lean")),
            ("recovery-bundle verify", verify(False)),
            ("verify, capture in its own threads (diagnostic)", verify(True)),
        ]
        runs = bench.plan.verify_runs
        slow = "no TCP_NODELAY" in name
        # Against Nagle the keep-alive loops without QUICKACK take ~40 ms a request: fewer rounds.
        bench.rounds(
            section,
            contenders,
            max(1, runs - 1) if slow else runs,
            warmup=bench.plan.warmup and not slow,
        )


def failing_ids(count: int) -> list[str]:
    return [f"20260603|기초자치단체장|missing-{n:06d}" for n in range(count)]


def failing_section(bench: Bench, sizes: list[int], bound_s: float) -> None:
    """``verify`` where every matchup check fails (404): time, CPU and memory against N."""
    section = bench.section(
        "5", "verify with failing checks (every matchup id unknown: 404), whole process",
        f"{sizes[0]:,} ids",
    )  # fmt: skip
    section.note = f"one run each; a run is stopped at {bound_s:.0f} s"
    for count in sizes:
        path = bench.work / f"failing-{count}.json"
        path.write_text(json.dumps(failing_ids(count), ensure_ascii=False), encoding="utf-8")
        argv = [*bench.verify_argv(str(bench.work / f"out-failing-{count}"))]
        argv[argv.index(str(bench.ids_file))] = str(path)
        label = f"{count:,} ids"
        sample = bench.process(f"failing-{count}", argv, expect=1, timeout=bound_s)
        series = section.series(label)
        series.add(sample.seconds, sample.rss_kb, sample.cpu_s)
        series.timed_out = sample.timed_out
        state = "STOPPED at the bound" if sample.timed_out else "done"
        rss = (sample.rss_kb or 0) / 1024
        bench.progress(
            f"  [5] {label}: {sample.seconds:.1f} s, cpu {sample.cpu_s:.1f} s, {rss:.0f} MB, {state}"
        )
        if sample.timed_out:
            break  # a larger N would only take longer


def startup_no_bytecode(bench: Bench) -> None:
    """Section 1b: the start-up rows again, the package copied fresh and no bytecode written."""
    copy = startup.fresh_copy(bench.work)
    env: dict[str, Any] = {**bench.env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(copy)}
    section = bench.section(
        "1b", "start-up without cached bytecode (fresh copy, PYTHONDONTWRITEBYTECODE=1)",
        'python -c "import click"',
    )  # fmt: skip
    out = str(bench.work / "out-dry-run-nobc")
    launcher = [bench.python, "-m", "recovery_plugin"]
    dry = [
        *launcher,
        "run",
        "--mode",
        "dry-run",
        "--matchup-id",
        bench.default_id,
        "--output-dir",
        out,
    ]
    contenders: list[tuple[str, Measure]] = [
        ("python -c pass", lambda: bench.process("pass", [bench.python, "-c", "pass"], env=env)),
        (
            'python -c "import click"',
            lambda: bench.process("click", [bench.python, "-c", "import click"], env=env),
        ),
        (
            "recovery-bundle --help",
            lambda: bench.process("help-nobc", [*launcher, "--help"], env=env),
        ),
        ("recovery-bundle run --mode dry-run", lambda: bench.process("dry-nobc", dry, env=env)),
    ]
    bench.rounds(section, contenders, bench.plan.startup_runs, warmup=False)
    args = [
        "run",
        "--mode",
        "dry-run",
        "--matchup-id",
        bench.default_id,
        "--output-dir",
        out + "-audit",
    ]
    bench.import_audit = startup.import_audit(args, bench.work)
