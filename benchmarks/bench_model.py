"""The benchmark's values: plans, samples, series, sections, verdicts; shared constants."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from recovery_plugin.sim import data

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
