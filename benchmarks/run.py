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

import argparse
import copy
import gc
import json
import os
import pickle
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import loops
import wire

from recovery_plugin.sim import data, store
from recovery_plugin.sim.harness import SimulatedService
from recovery_plugin.sim.records import parse_ingest_payload

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOC_PATH = ROOT / "docs" / "performance.md"
MEASURE = HERE / "measure.py"
LOOPS = HERE / "loops.py"
PYTHON = sys.executable
LAUNCHER = (PYTHON, "-m", "recovery_plugin")
MB = 1024 * 1024
SUBPROCESS_TIMEOUT_S = 600.0
CLEARED_ENV = frozenset(
    {"API_BASE_URL", "PYTEST_ADDOPTS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "GITHUB_STEP_SUMMARY"}
)
"""Not passed on (nor any ``RECOVERY_*``): they would redirect or reshape the measured runs."""


class Sample(NamedTuple):
    """One measurement: wall seconds, peak RSS (KiB, processes only), CPU seconds (user + sys)."""

    seconds: float
    rss_kb: int | None = None
    cpu_s: float | None = None
    timed_out: bool = False


Measure = Callable[[], Sample]


class BenchError(Exception):
    """A measurement could not be taken (a contender failed, the service did not start)."""


# --- plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    name: str
    verify_ids: int
    apply_ids: int
    reprocess_s: float
    huge_mb: int
    startup_runs: int
    verify_runs: int
    capture_runs: int
    apply_jobs8_runs: int
    apply_jobs1_runs: int
    huge_runs: int
    warmup: bool


FULL = Plan(
    name="full",
    verify_ids=1000,
    apply_ids=50,
    reprocess_s=0.5,
    huge_mb=200,
    startup_runs=11,
    verify_runs=3,
    capture_runs=3,
    apply_jobs8_runs=3,
    apply_jobs1_runs=2,
    huge_runs=2,
    warmup=True,
)
QUICK = Plan(
    name="quick",
    verify_ids=100,
    apply_ids=16,
    reprocess_s=0.5,
    huge_mb=200,
    startup_runs=3,
    verify_runs=1,
    capture_runs=1,
    apply_jobs8_runs=1,
    apply_jobs1_runs=1,
    huge_runs=1,
    warmup=False,
)


# --- results ------------------------------------------------------------------------------


@dataclass
class Series:
    """Repeated measurements of one contender: wall times and, for processes, peak RSS."""

    label: str
    seconds: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    timed_out: bool = False

    def add(self, seconds: float, rss_kb: int | None = None, cpu_s: float | None = None) -> None:
        self.seconds.append(seconds)
        if rss_kb is not None:
            self.rss_kb.append(rss_kb)
        if cpu_s is not None:
            self.cpu_s.append(cpu_s)

    @property
    def cpu_median(self) -> float | None:
        return statistics.median(self.cpu_s) if self.cpu_s else None

    @property
    def min(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_mb(self) -> float | None:
        return max(self.rss_kb) / 1024 if self.rss_kb else None


@dataclass
class Section:
    key: str
    title: str
    baseline: str
    rows: dict[str, Series] = field(default_factory=dict)
    kind: str = "time"
    """``time``: ratios of median wall times; ``rss``: peak RSS against the baseline's."""
    also: tuple[str, ...] = ()
    """Further baselines of the same run: one more ratio column each."""
    note: str = ""

    def ratio_to(self, label: str, baseline: str) -> float:
        return self.rows[label].median / self.rows[baseline].median

    def series(self, label: str) -> Series:
        return self.rows.setdefault(label, Series(label))

    def ratio(self, label: str) -> float:
        return self.rows[label].median / self.rows[self.baseline].median

    def rss_delta_mb(self, label: str) -> float:
        value, base = self.rows[label].peak_mb, self.rows[self.baseline].peak_mb
        assert value is not None and base is not None
        return value - base


@dataclass
class Verdict:
    target: str
    measured: str
    limit: str
    ok: bool


@dataclass
class SavedRun:
    """What the document is rendered from (``--save`` / ``--render``)."""

    plan: Plan
    sections: dict[str, Section]
    import_audit: list[tuple[str, float, str]]
    ids: list[str]


# --- the bench ----------------------------------------------------------------------------


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _synthetic_ids(count: int) -> list[str]:
    """The six sample ids, then clones named like real ids (``|`` and Hangul need encoding)."""
    ids = list(data.MATCHUP_IDS[:count])
    ids += [f"20260603|기초자치단체장|bench-{n:04d}" for n in range(1, count - len(ids) + 1)]
    return ids


class Bench:
    def __init__(self, plan: Plan, work: Path) -> None:
        self.plan = plan
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True)
        self.sections: dict[str, Section] = {}
        self.service = SimulatedService(work / "sim")
        self.ids = _synthetic_ids(plan.verify_ids)
        self.ids_file = work / "ids.json"
        self.apply_ids_file = work / "apply_ids.json"
        self.apply_config = work / "apply.toml"
        self._runs = 0
        self.python = PYTHON
        self.default_id = data.DEFAULT_MATCHUP_ID
        self.progress = _progress
        self.extra_servers: list[Any] = []
        self.import_audit: list[tuple[str, float, str]] = []

    # --- setup ----------------------------------------------------------------------------

    def start_service(self) -> None:
        """Seed the sample data plus synthetic matchups (straight into SQLite), then start."""
        svc = self.service
        svc.seed()
        payload = data.build_ingest_payload((data.DEFAULT_MATCHUP_ID,))
        template = payload["records"][0]
        records = []
        for matchup_id in self.ids:
            if matchup_id in data.MATCHUP_IDS:
                continue
            record = copy.deepcopy(template)
            region = matchup_id.rsplit("|", 1)[1]
            record["observation_key"] = f"obs-{region}"
            record["observation"].update(
                matchup_id=matchup_id, region_code=region, office_type="기초자치단체장"
            )
            records.append(record)
        if records:
            with store.open_db(svc.db_path) as conn:
                store.ingest_records(conn, parse_ingest_payload({**payload, "records": records}))
        svc.start()
        self.ids_file.write_text(json.dumps(self.ids, ensure_ascii=False), encoding="utf-8")
        apply_ids = self.ids[: self.plan.apply_ids]
        self.apply_ids_file.write_text(json.dumps(apply_ids, ensure_ascii=False), encoding="utf-8")
        sleep = f"import time; time.sleep({self.plan.reprocess_s})"
        svc.write_runbook(
            self.apply_config,
            steps={"reprocess": {"command": ["{python}", "-c", sleep, "{matchup_id}"]}},
        )

    @property
    def env(self) -> dict[str, str]:
        """The environment of every command: this one, minus what would change what is measured."""
        inherited = {
            name: value
            for name, value in os.environ.items()
            if name not in CLEARED_ENV and not name.startswith("RECOVERY_")
        }
        return {**inherited, **self.service.env}

    def section(
        self, key: str, title: str, baseline: str, kind: str = "time", also: tuple[str, ...] = ()
    ) -> Section:
        section = Section(key, title, baseline, kind=kind, also=also)
        self.sections[key] = section
        return section

    # --- one measurement --------------------------------------------------------------------

    def process(
        self,
        name: str,
        argv: Sequence[str],
        *,
        expect: int = 0,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Sample:
        """Run ``argv`` under ``measure.py``: wall time, peak RSS (KiB), CPU seconds of its tree.

        With ``timeout``, a run killed at the bound is returned with ``timed_out`` set."""
        self._runs += 1
        log = self.logs / f"{self._runs:03d}-{name}.log"
        bound = ["--timeout", str(timeout)] if timeout is not None else []
        wrapper = [PYTHON, str(MEASURE), *bound, str(log), "--", *argv]
        proc = subprocess.run(
            wrapper,
            cwd=self.work,
            env=dict(env if env is not None else self.env),
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
            check=False,
        )
        if proc.returncode != 0:
            raise BenchError(f"{name}: the measuring wrapper failed:\n{proc.stderr.strip()}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        sample = Sample(
            float(result["seconds"]),
            int(result["maxrss_kb"]),
            float(result["cpu_s"]),
            bool(result["timed_out"]),
        )
        if sample.timed_out:
            return sample
        if result["returncode"] != expect:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise BenchError(
                f"{name}: exit code {result['returncode']}, expected {expect}\n"
                f"$ {' '.join(argv)}\n{tail}"
            )
        return sample

    def rounds(
        self,
        section: Section,
        contenders: Sequence[tuple[str, Measure]],
        runs: int,
        *,
        warmup: bool,
    ) -> None:
        """Interleave the contenders, rotating their order every round; a warm-up is discarded."""
        for label, _ in contenders:
            section.series(label)
        if warmup:
            for _, measure in contenders:
                measure()
        for number in range(runs):
            shift = number % len(contenders)
            for label, measure in [*contenders[shift:], *contenders[:shift]]:
                seconds, rss, cpu, _ = measure()
                section.rows[label].add(seconds, rss, cpu)
                extra = f", {rss / 1024:.0f} MB" if rss is not None else ""
                extra += f", cpu {cpu:.2f} s" if cpu is not None else ""
                _progress(f"  [{section.key}] {label}: {seconds:.3f} s{extra}")

    # --- 1. start-up ------------------------------------------------------------------------

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
        from recovery_plugin.http.checks import evaluate
        from recovery_plugin.http.fetch import Target, capture_all
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

        def checked_capture_all(lean: bool = False) -> Sample:
            gc.collect()
            start, cpu = time.perf_counter(), time.process_time()
            client = wire.lean_client(CaptureSpec()) if lean else None
            captures = capture_all(base, targets, CaptureSpec(), redactor=Redactor(), client=client)
            if client is not None:
                client.close()
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
            (
                "capture_all, same client on LeanTransport",
                lambda: checked_capture_all(lean=True),
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

    def verdicts(self) -> list[Verdict]:
        """Issue 12's targets, for the sections that ran."""
        s = self.sections
        n = len(self.ids)
        verdicts: list[Verdict] = []
        for key, variant in (("1", "cached bytecode"), ("1b", "no cached bytecode")):
            if key not in s:
                continue
            for label in ("recovery-bundle run --mode dry-run", "recovery-bundle --help"):
                ratio = s[key].ratio(label)
                verdicts.append(
                    Verdict(
                        f'start-up, {variant}: `{label[16:]}` <= 1.5x `python -c "import click"`',
                        f"{ratio:.2f}x",
                        "<= 1.5x",
                        ratio <= 1.5,
                    )
                )
        limits = {"TCP_NODELAY": 0.7, "no TCP_NODELAY": 0.8, "uvicorn": 0.7}
        for section in s.values():
            if not section.key.startswith("2w"):
                continue
            server = section.title.split(", ", 2)[2].split(" (whole")[0]
            limit = limits[
                "no TCP_NODELAY"
                if "no TCP" in server
                else "uvicorn"
                if "uvicorn" in server
                else "TCP_NODELAY"
            ]
            for label in (
                "recovery-bundle verify",
                "verify, capture on LeanTransport (diagnostic)",
            ):
                row, loop = section.rows[label], section.rows["urllib loop"]
                ratio = section.ratio(label)
                verdicts.append(
                    Verdict(
                        f"`{label}` of {n:,} ids, {server}: wall vs the urllib loop",
                        f"{ratio:.2f}x ({row.median:.2f} s vs {loop.median:.2f} s)",
                        f"<= {limit}x",
                        ratio <= limit,
                    )
                )
                cpu, loop_cpu = row.cpu_median or 0.0, loop.cpu_median or 1.0
                verdicts.append(
                    Verdict(
                        f"`{label}`, {server}: harness CPU vs the urllib loop's",
                        f"{cpu / loop_cpu:.2f}x ({cpu:.2f} s vs {loop_cpu:.2f} s)",
                        "<= 1.5x",
                        cpu / loop_cpu <= 1.5,
                    )
                )
        if "2a" in s:
            peak = s["2a"].rows["recovery-bundle verify"].peak_mb or 0.0
            verdicts.append(
                Verdict(
                    f"peak RSS of `verify` with {n:,} ids",
                    f"{peak:.0f} MB",
                    "<= 100 MB",
                    peak <= 100,
                )
            )
        if "3a" in s:
            apply_ratio = s["3a"].ratio("--jobs 8")
            verdicts.append(
                Verdict(
                    f"`run --mode apply`, {self.plan.apply_ids} ids: `--jobs 8` vs `--jobs 1`",
                    f"{apply_ratio:.2f}x",
                    "<= 0.2x",
                    apply_ratio <= 0.2,
                )
            )
        if "4" in s:
            rss = s["4"]
            huge_label = next(label for label in rss.rows if "summary body" in label)
            huge_delta = rss.rss_delta_mb(huge_label)
            verdicts.append(
                Verdict(
                    f"peak RSS with a {self.plan.huge_mb} MB response body vs dry-run",
                    f"+{huge_delta:.0f} MB",
                    "< +100 MB",
                    huge_delta < 100,
                )
            )
        if "5" in s:
            for label, series in s["5"].rows.items():
                peak = series.peak_mb or 0.0
                done = "stopped at the bound" if series.timed_out else f"{series.median:.0f} s"
                verdicts.append(
                    Verdict(
                        f"`verify`, {label} failing: completes, peak RSS",
                        f"{done}, {peak:.0f} MB",
                        "completes, < 500 MB",
                        not series.timed_out and peak < 500,
                    )
                )
        return verdicts


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


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    plugins = sorted(f"{e.name} ({e.value})" for e in metadata.entry_points(group="pytest11"))
    packages = ("click", "httpx", "httpcore", "pytest", "pytest-json-report", "tenacity")
    return {
        "CPU": _cpu_model(),
        "cores": f"{os.cpu_count()} ({usable} usable by this process)",
        "memory": _memory(),
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()} ({PYTHON})",
        "packages": ", ".join(f"{p} {_version(p)}" for p in packages),
        "pytest plugins installed (auto-loaded by the verification session)": ", ".join(plugins),
    }


# --- rendering ------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: int = 1) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append(
        "| " + " | ".join("---" if i < right else "---:" for i in range(len(header))) + " |"
    )
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render_section(section: Section) -> list[str]:
    lines = [f"**{section.key}. {section.title}** — baseline: {section.baseline}", ""]
    if section.kind == "rss":
        base = section.rows[section.baseline].peak_mb or 0.0
        rows = []
        for label, series in section.rows.items():
            value = series.peak_mb or 0.0
            rows.append(
                [
                    label + (" (baseline)" if label == section.baseline else ""),
                    str(len(series.rss_kb)),
                    f"{value:.1f} MB",
                    f"{value - base:+.1f} MB",
                    f"{value / base:.2f}x",
                ]
            )
        header = ["process", "runs", "peak RSS (max of runs)", "vs baseline", "ratio"]
        return lines + _table(header, rows)
    if section.key == "5":
        return lines + _failing_table(section)
    rows = []
    for label, series in section.rows.items():
        peak, cpu = series.peak_mb, series.cpu_median
        rows.append(
            [
                label + (" (baseline)" if label == section.baseline else ""),
                str(len(series.seconds)),
                f"{series.min:.3f} s",
                f"{series.median:.3f} s",
                f"{cpu:.2f} s" if cpu is not None else "-",
                f"{section.ratio(label):.2f}x",
                *(f"{section.ratio_to(label, other):.2f}x" for other in section.also),
                f"{peak:.0f} MB" if peak is not None else "-",
            ]
        )
    header = ["contender", "runs", "min", "median", "CPU (median)", "ratio (median)"]
    header += [f"vs {other}" for other in section.also] + ["peak RSS"]
    return lines + _table(header, rows)


def _failing_table(section: Section) -> list[str]:
    rows = []
    for label, series in section.rows.items():
        checks = int(label.split()[0].replace(",", "")) + 2
        seconds, cpu = series.median, series.cpu_median or 0.0
        shown = f"> {seconds:.0f} s (stopped)" if series.timed_out else f"{seconds:.1f} s"
        per_10k = "-" if series.timed_out else f"{seconds / checks * 10_000:.1f} s"
        rows.append(
            [label, f"{checks:,}", shown, f"{cpu:.1f} s", per_10k, f"{series.peak_mb or 0:.0f} MB"]
        )
    header = ["ids", "checks", "wall", "CPU", "wall per 10k checks", "peak RSS"]
    return [f"_{section.note}_", "", *_table(header, rows)]


def render_verdicts(verdicts: Sequence[Verdict]) -> list[str]:
    rows = [[v.target, v.measured, v.limit, "PASS" if v.ok else "FAIL"] for v in verdicts]
    return _table(["target", "measured", "limit", "result"], rows)


def render_results(bench: Bench | SavedRun) -> list[str]:
    lines: list[str] = []
    for section in bench.sections.values():
        lines += [*render_section(section), ""]
    if bench.import_audit:
        lines += [
            "**1c. modules a dry-run imports that `import click` does not** (`python -S -X importtime`,"
            " cumulative, top 15)",
            "",
        ]
        rows = [[f"`{name}`", f"{ms:.1f} ms", note] for name, ms, note in bench.import_audit]
        lines += [
            *_table(["module", "import time", "not needed by a dry-run: where"], rows, right=1),
            "",
        ]
    return lines


METHODOLOGY = """\
- **The service.** `SimulatedService` (the project's simulated service: stdlib
  `ThreadingHTTPServer`, HTTP/1.1 keep-alive, SQLite) runs on 127.0.0.1 in its own process, data in
  a temporary directory. It shares the cores with the contenders, so every number includes the
  server's own work — equally for every contender.
- **The ids.** `sim.seed()` loads the six sample matchups; the rest of the {ids:,} ids are clones of
  the default sample matchup under new ids (`20260603|기초자치단체장|bench-NNNN`: `|` and Hangul, so
  percent-encoding is exercised), inserted through the simulator's own store
  (`store.ingest_records`). Every GET therefore answers **200 with a real matchup body** and
  `verify` runs the **built-in default checks unchanged** (`/health`, the summary keys, `matchup_id`
  equal to the requested id): no 404 shortcut, no relaxed expectations. {ids:,} ids make
  {checks:,} checks (plus one readiness probe of `/health`).
- **Processes.** Every whole-process measurement is a fresh `sys.executable -m recovery_plugin ...`
  (or `python benchmarks/loops.py ...`) started by `benchmarks/measure.py`, which times it from
  spawn to exit and reads its peak RSS with `getrusage(RUSAGE_CHILDREN).ru_maxrss` after reaping
  it (the largest process of its tree; the wrapper and the driver are never counted). Arguments are
  argv lists, never a shell. MB means MiB. The commands inherit the environment minus
  `API_BASE_URL`, `RECOVERY_*`, `PYTEST_ADDOPTS`, `PYTEST_DISABLE_PLUGIN_AUTOLOAD` and
  `GITHUB_STEP_SUMMARY`, which would redirect or reshape what is measured.
- **Repetitions.** Contenders of a section run interleaved, their order rotated every round, so a
  slow moment of a shared machine does not land on one contender only; a discarded warm-up round
  precedes start-up and verify. The tables give min and median; every ratio is a median divided by
  the median of the section's baseline **measured in the same run**. The load average before and
  after the run is recorded above: on a busy machine rerun before drawing conclusions.
- **1. Start-up.** `--help`, and the README's smoke dry-run (`run --mode dry-run --matchup-id
  "20260603|광역자치단체장|11-000"`, built-in profile, which writes its report), against
  `python -c "import click"`. `python -c pass` shows what the interpreter alone costs here (site
  initialisation included): every row pays it, which is why ratios against `import click` are not
  ratios of the tool's own work.
- **2a. verify, whole process.** `verify --config <the simulator's runbook> --matchup-file ids.json`:
  interpreter start, imports, readiness probe, the generated pytest session ({checks:,} items),
  `api_capture.json` and the report. The loops (`benchmarks/loops.py`) make the same GETs in the
  same order, parse every body and check the same things, and write nothing: `urllib` opens one
  connection per URL (`urlopen`, ids quoted with `quote(id, safe="")`, the original script's way);
  `httpx` uses one keep-alive `Client`. The diagnostic row is the same `verify` with
  `PYTEST_DISABLE_PLUGIN_AUTOLOAD=1` (the launcher then loads only its own two pytest plugins): the
  difference is what the third-party pytest plugins installed here cost the session.
- **2b. Capture phase alone.** In the benchmark's own process, after a warm-up (imports, first
  connections): `capture_all(base_url, targets, CaptureSpec(), redactor=Redactor())` — the same
  targets `verify` builds, default spec (8 worker threads over one keep-alive `httpx.Client`,
  10 MiB body cap) — against the loops' functions, plus an `httpx.AsyncClient` with 8 requests in
  flight (the issue asks to measure before choosing). `capture_all` is timed alone; its captures are
  then checked with the plugin's own `evaluate`.
- **3. Apply.** `run --mode apply --skip-ingest --jobs N` with a runbook whose reprocess step is
  `{{python}} -c "import time; time.sleep({delay:g})" {{matchup_id}}`: each step costs exactly the
  delay plus an interpreter start, so the ratio measures the launcher's fan-out, not the machine's
  cores. (The simulator's own reprocess command with the `{{"reprocess": {{"delay": {delay:g}}}}}`
  fault adds SQLite work and snapshots per step, which on few cores measures CPU contention
  instead.) Ingest is
  skipped (it runs once whatever `--jobs` is); the baseline capture and the verification of the
  {apply_ids} ids are included in both. `--jobs 1` runs fewer times than `--jobs 8` (it takes
  {apply_ids} x {delay:g} s). Table 3b is the reprocess phase read from the report's step
  timestamps. The ideal ratio is ceil({apply_ids}/8)/{apply_ids} = {ideal:.2f}.
- **4. Peak RSS.** The {ids:,}-id `verify` figures (and the loops') come from the runs of 2a. The large body: the
  simulator's fault `{{"endpoints": {{"summary": {{"huge_mb": {huge}}}}}}}`, `verify` of one id;
  the capture stops reading at its 10 MiB cap, the summary check fails ("too large", which the
  benchmark checks) and `verify` exits 1, as it should. The target compares it with the dry-run's
  peak RSS.

- **1b. Start-up without cached bytecode.** The package copied fresh (no `__pycache__`) and put
  first on `PYTHONPATH`, `PYTHONDONTWRITEBYTECODE=1` for every row (click and the standard library
  keep their installed bytecode): what an install that leaves no bytecode for the project costs on
  every run. A wheel installed by pip is byte-compiled at install time; an editable install is
  compiled on first run only if its directory is writable.
- **1c. Import audit.** The dry-run under `python -S -X importtime` with this interpreter's
  `sys.path` (so no `.pth` file of the machine imports modules first and hides them), minus what
  `import click` imports the same way; top-level modules, cumulative time of the first import.
- **2w. Three servers.** The same data (a copy of the simulator's database) behind: the simulator
  (stdlib `ThreadingHTTPServer` with `TCP_NODELAY`); the same server and handler with
  `TCP_NODELAY` off — it writes headers and body in two `send` calls, as production servers behind
  Nagle's algorithm do; and a minimal ASGI app with the three endpoints (the simulator's own views,
  synchronous SQLite reads) under uvicorn with its defaults and one worker
  (`benchmarks/servers.py`). None is tuned for the client. Per server: the urllib loop (the
  original script: one connection per URL), a bare `http.client` keep-alive loop, a bare httpx
  `Client` loop, the same httpx loop over `LeanTransport`, `verify --api-base <server>`, and the
  same `verify` with its capture client on `LeanTransport` (`benchmarks/lean_verify.py` replaces
  `http.capture.make_client` and nothing else: a diagnostic of the integration). Ratios are given
  against the urllib loop and against the bare httpx and `http.client` loops **of the same run**.
  Against the server without `TCP_NODELAY` the keep-alive loops without QUICKACK wait ~40 ms per
  request, so that section runs one round fewer and no warm-up.
- **CPU.** Whole processes: `ru_utime + ru_stime` of `getrusage(RUSAGE_CHILDREN)` in
  `measure.py` after reaping the command (the command and everything it reaped; the servers are
  not its children, so their CPU is never counted). In-process rows (2b): `time.process_time()`
  of the benchmark process around the measured call.
- **5. Failing checks.** `verify --matchup-file` with N ids the service does not know: every
  matchup check fails (404), the two others pass; one run per N, stopped at the bound.

## Where the time goes

- **Nagle + delayed ACK.** A keep-alive client reading a response whose headers and body come in
  two segments from a server without `TCP_NODELAY` waits for its own delayed ACK (~40 ms on Linux)
  before the server sends the body: see the `http.client` and httpx loops in 2w2. A new connection
  per request (the urllib loop) starts in quick-ACK mode and never sees it. `LeanTransport` re-arms
  `TCP_QUICKACK` after every request is sent (the kernel drops it again by itself), which removes
  the stall; setting it once at connect changes nothing.
- **httpx's own cost.** Over `LeanTransport` the transport's share is small; what remains of the
  httpx rows over the bare `http.client` loop is the client surface (request building, URL parsing
  and quoting, headers, response model), paid per request in the capture threads.
- **pytest per check.** The difference between `verify` and the capture phase alone (2b) is the
  session: start-up, one item per check, reporting. A generated check runs only its call phase
  through pytest's hooks (setup and teardown are reported as passed without running, when no
  plugin but pytest's own, pytest-json-report and ours listens to them), and the warnings,
  doctest, pastebin and stepwise plugins are off (`python benchmarks/ablation.py` measures each
  saving A/B). With failing checks (section 5) the time per 10,000 checks stays about constant:
  pytest's default failure summary scanned every report once per failure (quadratic), so the
  session uses `--tb=line`, and the report holds every reason.
- **Start-up.** Section 1c lists what a dry-run imports beyond click; `tempfile`, `hashlib`
  (OpenSSL) and `tomllib` are not needed by it (the import sites are named in the table).

## Why `verify` of {ids:,} ids is still slower than the urllib loop

The capture itself is faster than the loop (table 2b: one keep-alive client, 8 requests in
flight). What the loop does not do is everything a gate must: {checks:,} pytest items, each with
its setup/call/teardown and pytest-json-report's bookkeeping (about 0.25 ms an item here), the
report's per-check entries, and `api_capture.json` with every body. On this 2-core machine the
simulated service (itself Python, one interpreter lock) takes one core for its ~1 ms per request,
so the harness's own work cannot hide behind the network as it would against a real, remote
service: it competes with the service for the CPU. What was done about it: the verification
session loads only its own pytest plugins, skips log capture and fd-level capture per phase and
pytest's end-of-run garbage-collection passes, starts capturing before pytest starts up, and lets
each check read its capture as soon as it arrives; bodies are masked in one pass over their text
and the capture file is written one capture per line with the C JSON encoder. Together these took
`verify` from 4.3 s to about 1.6 s (2.7x to about 1.5x the loop). Going further means fewer pytest
items than checks (one item per endpoint, per-id outcomes only in the report), which the issue's
"one item per endpoint and per matchup id" rules out.
"""


def render_doc(
    bench: Bench | SavedRun, info: Mapping[str, str], verdicts: Sequence[Verdict]
) -> str:
    plan = bench.plan
    apply_ids = plan.apply_ids
    ideal = -(-apply_ids // 8) / apply_ids
    lines = [
        "# Performance",
        "",
        "The benchmarks of issues 5 and 12, measured side by side in one run on loopback: against the"
        " simulated service, the same server without TCP_NODELAY, and a uvicorn ASGI server. This file"
        " is written by `python benchmarks/run.py --write` (or `--render` of a `--save`d run): rerun it"
        " (do not edit the numbers by hand) whenever they change.",
        "",
        "## How to run",
        "",
        "```bash norun",
        "pip install -e '.[bench]'           # uvicorn, for the ASGI server",
        "python benchmarks/run.py            # full run (about 20 minutes on 2 cores): the tables below",
        "python benchmarks/run.py --quick    # smoke variant with small N (about 2 minutes)",
        "python benchmarks/run.py --write    # full run, then rewrite docs/performance.md",
        "python benchmarks/run.py --only startup,nobytecode   # some steps only (see --help)",
        "python benchmarks/run.py --failing-100k              # also 100,000 failing checks (opt-in)",
        "```",
        "",
        "Failing checks run at 1,000 and 10,000 ids by default; 100,000 is opt-in"
        " (`--failing-100k`) because it takes minutes today. Every failing-checks run is stopped at"
        " `--failing-bound` seconds (480 by default) and then shown as stopped, not as a time.",
        "",
        "The benchmark starts the simulated service itself (a temporary data directory, a free port)"
        " and stops it at the end; it needs nothing but the installed project. It exits 0 when every"
        " measurement ran, whether or not the targets are met (the table says), and 1 when one could"
        " not be taken.",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- **{key}**: {value}" for key, value in info.items()]
    lines += ["", "## Targets", ""]
    if plan.name != "full":
        lines += [
            f"> **{plan.name} variant** (small N): these numbers are a smoke test, not the targets'"
            " measurements. Run the full benchmark for those.",
            "",
        ]
    lines += render_verdicts(verdicts)
    lines += ["", "## Results", ""]
    lines += render_results(bench)
    lines += ["## Methodology", ""]
    lines += METHODOLOGY.format(
        ids=plan.verify_ids,
        checks=plan.verify_ids + 2,
        delay=plan.reprocess_s,
        apply_ids=apply_ids,
        ideal=ideal,
        huge=plan.huge_mb,
    ).splitlines()
    return "\n".join(lines).rstrip() + "\n"


# --- main -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py", description=__doc__.split("\n\n")[0]
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


if __name__ == "__main__":
    sys.exit(main())
