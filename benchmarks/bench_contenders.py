"""The contenders of sections 1-4 (start-up, verify, capture phase, apply, peak RSS)."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import loops
from bench_model import (
    LAUNCHER,
    LOOPS,
    PYTHON,
    BenchError,
    Measure,
    Sample,
    _progress,
)

from recovery_plugin.sim import data


class Contenders:
    """Mixed into ``Bench``: each method measures one section."""

    def startup(self) -> None:
        section = self.section("1", "start-up (whole process)", 'python -c "import click"')
        out = str(self.work / "out-dry-run")
        dry_run = [*LAUNCHER, "run", "--mode", "dry-run", "--matchup-id", data.DEFAULT_MATCHUP_ID]
        dry_run += ["--output-dir", out]
        contenders = [
            ("python -c pass", lambda: self.process("pass", [PYTHON, "-c", "pass"])),
            (
                'python -c "import click"',
                lambda: self.process("import-click", [PYTHON, "-c", "import click"]),
            ),
            ("recovery-bundle --help", lambda: self.process("help", [*LAUNCHER, "--help"])),
            (
                "recovery-bundle run --mode dry-run",
                lambda: self.process("dry-run", dry_run),
            ),
        ]
        self.rounds(section, contenders, self.plan.startup_runs, warmup=self.plan.warmup)

    # --- 2. verify ----------------------------------------------------------------------------

    def verify_argv(self, out: str, *ids: str) -> list[str]:
        argv = [*LAUNCHER, "verify", "--config", str(self.service.config_path)]
        argv += ["--output-dir", out]
        if ids:
            for matchup_id in ids:
                argv += ["--matchup-id", matchup_id]
        else:
            argv += ["--matchup-file", str(self.ids_file)]
        return argv

    def verify_whole(self) -> None:
        n = len(self.ids)
        section = self.section("2a", f"verify, {n:,} ids (whole process)", "urllib loop")
        base = self.service.base_url
        ids = str(self.ids_file)
        out = str(self.work / "out-verify")
        no_autoload = {**self.env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        contenders: list[tuple[str, Measure]] = [
            (
                "urllib loop",
                lambda: self.process("urllib", [PYTHON, str(LOOPS), "urllib", base, ids]),
            ),
            (
                "httpx Client loop",
                lambda: self.process("httpx", [PYTHON, str(LOOPS), "httpx", base, ids]),
            ),
            ("recovery-bundle verify", lambda: self.process("verify", self.verify_argv(out))),
            (
                "verify, PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 (diagnostic)",
                lambda: self.process("verify-noautoload", self.verify_argv(out), env=no_autoload),
            ),
        ]
        self.rounds(section, contenders, self.plan.verify_runs, warmup=self.plan.warmup)

    def capture_phase(self) -> None:
        from recovery_plugin.config import DEFAULT_ENDPOINTS, CaptureSpec
        from recovery_plugin.http.capture import Target
        from recovery_plugin.http.checks import evaluate
        from recovery_plugin.http.fetch import capture_all
        from recovery_plugin.redact import Redactor

        n = len(self.ids)
        section = self.section("2b", f"capture phase alone, {n:,} ids (in-process)", "urllib loop")
        base = self.service.base_url
        requests = loops.requests_for(base, self.ids)
        targets = [
            Target(spec.name, spec.path, matchup_id)
            for spec in DEFAULT_ENDPOINTS
            for matchup_id in (self.ids if spec.per_matchup else [None])
        ]
        specs = {spec.name: spec for spec in DEFAULT_ENDPOINTS}

        def run_capture_all(subset: int | None = None) -> int:
            chosen = targets if subset is None else targets[:subset]
            captures = capture_all(base, chosen, CaptureSpec(), redactor=Redactor())
            return len(captures)

        def timed(run: Callable[[], int], expected: int) -> Sample:
            gc.collect()
            start, cpu = time.perf_counter(), time.process_time()
            done = run()
            seconds = time.perf_counter() - start
            if done != expected:
                raise BenchError(f"capture phase: {done} of {expected} requests passed")
            return Sample(seconds, None, time.process_time() - cpu)

        def checked_capture_all() -> Sample:
            gc.collect()
            start, cpu = time.perf_counter(), time.process_time()
            captures = capture_all(base, targets, CaptureSpec(), redactor=Redactor())
            seconds = time.perf_counter() - start
            cpu_s = time.process_time() - cpu
            failing = [key for key, c in captures.items() if evaluate(specs[c.name], c)]
            if failing or len(captures) != len(targets):
                raise BenchError(f"capture_all: {len(failing)} failing checks, e.g. {failing[:3]}")
            return Sample(seconds, None, cpu_s)

        total = len(requests)
        contenders: list[tuple[str, Measure]] = [
            ("urllib loop", lambda: timed(lambda: loops.urllib_loop(requests), total)),
            ("httpx Client loop", lambda: timed(lambda: loops.httpx_loop(requests), total)),
            (
                f"httpx AsyncClient, {loops.ASYNC_IN_FLIGHT} in flight",
                lambda: timed(lambda: loops.httpx_async_loop(requests), total),
            ),
            (
                "capture_all (CaptureSpec() defaults: 8 threads, one Client)",
                checked_capture_all,
            ),
        ]
        # Warm-up on a few requests: imports and first connections are not the capture phase.
        loops.urllib_loop(requests[:20])
        loops.httpx_loop(requests[:20])
        loops.httpx_async_loop(requests[:20])
        run_capture_all(20)
        self.rounds(section, contenders, self.plan.capture_runs, warmup=False)

    # --- 3. apply -----------------------------------------------------------------------------

    def apply(self) -> None:
        n = self.plan.apply_ids
        delay = self.plan.reprocess_s
        section = self.section(
            "3a", f"run --mode apply, {n} ids x {delay:g} s reprocess (whole process)", "--jobs 1"
        )
        phase = self.section(
            "3b", "the reprocess phase alone (first start to last finish, from the report)",
            "--jobs 1",
        )  # fmt: skip
        out = str(self.work / "out-apply")

        def run_apply(jobs: int) -> Sample:
            report = self.work / f"apply-report-{self._runs + 1:03d}.json"
            argv = [*LAUNCHER, "run", "--mode", "apply", "--config", str(self.apply_config)]
            argv += ["--matchup-file", str(self.apply_ids_file), "--skip-ingest"]
            argv += ["--jobs", str(jobs), "--output-dir", out, "--report", str(report)]
            sample = self.process(f"apply-jobs{jobs}", argv)
            phase.series(f"--jobs {jobs}").add(_reprocess_phase(report, n))
            return sample

        section.series("--jobs 1")
        phase.series("--jobs 1")
        # --jobs 1 takes n x delay seconds, so it runs fewer times; the two alternate.
        plan = self.plan
        schedule = [8, 1] * plan.apply_jobs1_runs + [8] * (
            plan.apply_jobs8_runs - plan.apply_jobs1_runs
        )
        for jobs in schedule:
            seconds, rss, cpu, _ = run_apply(jobs)
            assert rss is not None
            section.series(f"--jobs {jobs}").add(seconds, rss, cpu)
            _progress(f"  [{section.key}] --jobs {jobs}: {seconds:.3f} s, {rss / 1024:.0f} MB")

    # --- 4. peak RSS ----------------------------------------------------------------------------

    def rss(self) -> None:
        mb = self.plan.huge_mb
        section = self.section(
            "4", "peak RSS of the process", "recovery-bundle run --mode dry-run", kind="rss"
        )
        huge_label = f"recovery-bundle verify, 1 id, {mb} MB summary body"
        out = str(self.work / "out-huge")
        report = self.work / "huge-report.json"

        def run_huge() -> Sample:
            argv = [*self.verify_argv(out, data.DEFAULT_MATCHUP_ID), "--report", str(report)]
            # The body is over the capture cap (10 MiB): the summary check fails, verify exits 1.
            measured = self.process("verify-huge", argv, expect=1)
            _check_huge_report(report)
            return measured

        self.service.set_faults({"endpoints": {"summary": {"huge_mb": mb}}})
        try:
            self.rounds(section, [(huge_label, run_huge)], self.plan.huge_runs, warmup=False)
        finally:
            self.service.set_faults(None)
        startup, verify = self.sections["1"], self.sections["2a"]
        n = len(self.ids)
        rows = {
            "recovery-bundle run --mode dry-run": startup.rows[
                "recovery-bundle run --mode dry-run"
            ],
            'python -c "import click"': startup.rows['python -c "import click"'],
            f"urllib loop, {n:,} ids": verify.rows["urllib loop"],
            f"httpx Client loop, {n:,} ids": verify.rows["httpx Client loop"],
            f"recovery-bundle verify, {n:,} ids": verify.rows["recovery-bundle verify"],
            huge_label: section.rows[huge_label],
        }
        section.rows = rows

    # --- verdicts -------------------------------------------------------------------------------


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _reprocess_phase(report_path: Path, expected_steps: int) -> float:
    report = json.loads(report_path.read_text(encoding="utf-8"))
    steps = [s for s in report["steps"] if s["name"] == "reprocess"]
    if report["status"] != "success" or len(steps) != expected_steps:
        raise BenchError(f"{report_path}: apply run {report['status']}: {report.get('error')}")
    start = min(_iso(s["started_at"]) for s in steps)
    end = max(_iso(s["finished_at"]) for s in steps)
    return (end - start).total_seconds()


def _check_huge_report(report_path: Path) -> None:
    report = json.loads(report_path.read_text(encoding="utf-8"))
    tests = (report.get("verification") or {}).get("tests", [])
    summary = [t for t in tests if t.get("endpoint") == "summary"]
    if not summary or "too large" not in (summary[0].get("message") or ""):
        raise BenchError(f"{report_path}: the summary check did not fail on the body size")


# --- machine --------------------------------------------------------------------------------
