"""The bench: the simulated service, the environment, one measurement, rounds; the machine."""

from __future__ import annotations

import copy
import json
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench_contenders import Contenders
from bench_model import (
    CLEARED_ENV,
    MEASURE,
    PYTHON,
    SUBPROCESS_TIMEOUT_S,
    BenchError,
    Measure,
    Plan,
    Sample,
    Section,
    _progress,
    _synthetic_ids,
)
from bench_verdicts import Verdicts

from recovery_plugin.sim import data, store
from recovery_plugin.sim.harness import SimulatedService
from recovery_plugin.sim.records import parse_ingest_payload


class Bench(Contenders, Verdicts):
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
