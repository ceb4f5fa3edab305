"""Issue 12's targets against what the sections measured."""

from __future__ import annotations

from bench_model import (
    Verdict,
)


class Verdicts:
    """Mixed into ``Bench``."""

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
                "verify, capture in its own threads (diagnostic)",
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
