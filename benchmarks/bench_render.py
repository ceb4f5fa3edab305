"""Rendering: the tables printed and docs/performance.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bench_methodology import METHODOLOGY
from bench_model import (
    SavedRun,
    Section,
    Verdict,
)

if TYPE_CHECKING:
    from bench_core import Bench


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
