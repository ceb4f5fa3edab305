"""The command line of ``python benchmarks/run.py``."""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import wire
from bench_core import Bench, machine
from bench_model import (
    DOC_PATH,
    FULL,
    QUICK,
    ROOT,
    BenchError,
    SavedRun,
    _progress,
)
from bench_render import render_doc, render_results, render_verdicts


def main(argv: Sequence[str] | None = None, doc: str = "") -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py", description=(doc or __doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smoke variant: small N, one run each")
    parser.add_argument(
        "--write", action="store_true", help=f"rewrite {DOC_PATH.relative_to(ROOT)}"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs, reports)"
    )
    parser.add_argument(
        "--save", type=Path, default=None, help="also save the results (pickle) to this file"
    )
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        help=f"measure nothing: rewrite {DOC_PATH.relative_to(ROOT)} from a file written by --save",
    )
    parser.add_argument(
        "--failing-100k",
        action="store_true",
        help="also verify 100,000 failing checks (opt-in: minutes; stopped at --failing-bound)",
    )
    parser.add_argument(
        "--failing-bound",
        type=float,
        default=480.0,
        help="seconds after which a failing-checks run is stopped (default 480)",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated steps to run: startup,nobytecode,verify,wire,capture,apply,rss,failing",
    )
    args = parser.parse_args(argv)
    if args.render is not None:
        saved = pickle.loads(args.render.read_bytes())
        DOC_PATH.write_text(render_doc(saved["bench"], saved["info"], saved["verdicts"]), "utf-8")
        _progress(f"wrote {DOC_PATH} from {args.render}")
        return 0
    plan = QUICK if args.quick else FULL
    work = Path(tempfile.mkdtemp(prefix="recovery-bench-"))
    started = time.monotonic()
    load_before = os.getloadavg()
    bench = Bench(plan, work)
    failed = False
    try:
        _progress(f"{plan.name} benchmark; work directory {work}")
        bench.start_service()
        _progress(f"simulated service on {bench.service.base_url} with {len(bench.ids):,} ids")
        sizes = [plan.verify_ids, 10 * plan.verify_ids]
        if args.failing_100k:
            sizes.append(100 * plan.verify_ids)
        steps: list[tuple[str, str, Callable[[], None]]] = [
            ("startup", "1. start-up", bench.startup),
            (
                "nobytecode",
                "1b. start-up without bytecode",
                lambda: wire.startup_no_bytecode(bench),
            ),
            ("verify", "2a. verify, whole process", bench.verify_whole),
            ("capture", "2b. capture phase", bench.capture_phase),
            (
                "wire",
                "2w. verify and the loops on three servers",
                lambda: wire.wire_sections(bench),
            ),
            ("apply", "3. apply --jobs", bench.apply),
            ("rss", "4. peak RSS", bench.rss),
            (
                "failing",
                "5. failing checks",
                lambda: wire.failing_section(bench, sizes, args.failing_bound),
            ),
        ]
        only = {name for name in args.only.split(",") if name}
        if "rss" in only:
            only |= {"startup", "verify"}
        steps = [(name, title, step) for name, title, step in steps if not only or name in only]
        for _, title, step in steps:
            _progress(f"{title} ({time.monotonic() - started:.0f} s so far)")
            step()
    except (BenchError, RuntimeError, subprocess.TimeoutExpired) as exc:
        _progress(f"benchmark failed: {exc}")
        failed = True
    finally:
        for server in bench.extra_servers:
            server.stop()
        bench.service.stop()
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()
    if failed:
        _progress(f"work directory kept for inspection: {work}")
        return 1
    info = machine()
    info["load average (1, 5, 15 min)"] = (
        f"{' '.join(f'{x:.2f}' for x in load_before)} before,"
        f" {' '.join(f'{x:.2f}' for x in load_after)} after"
    )
    info["run"] = (
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, {plan.name} variant,"
        f" {elapsed:.0f} s in all"
    )
    verdicts = bench.verdicts()
    out = ["", "Machine:"] + [f"  {key}: {value}" for key, value in info.items()] + [""]
    out += render_results(bench)
    out += ["Targets:", "", *render_verdicts(verdicts)]
    print("\n".join(out))
    if args.save is not None:
        saved = SavedRun(plan, bench.sections, bench.import_audit, bench.ids)
        payload = {"bench": saved, "info": info, "verdicts": verdicts}
        args.save.write_bytes(pickle.dumps(payload))
        _progress(f"results saved to {args.save}")
    if args.write:
        DOC_PATH.write_text(render_doc(bench, info, verdicts), encoding="utf-8")
        _progress(f"wrote {DOC_PATH}")
    if args.keep:
        _progress(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0
