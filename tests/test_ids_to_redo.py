"""``ids_to_redo``: every id a re-apply must still do — failed, timed out, interrupted, and the
ones skipped because of them — and none that succeeded or were skipped by choice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema

from recovery_plugin import BundleResult
from recovery_plugin.sim.data import MATCHUP_IDS
from recovery_plugin.sim.harness import SimulatedService

SimFactory = Callable[..., SimulatedService]
Runner = Callable[..., BundleResult]


def _apply(sim: SimulatedService, run_bundle: Runner, *extra: str) -> BundleResult:
    args = ["run", "--mode", "apply", "--config", str(sim.config_path), *extra]
    for matchup_id in MATCHUP_IDS[:3]:
        args += ["--matchup-id", matchup_id]
    return run_bundle(*args)


def test_failed_and_the_ones_skipped_because_of_it_are_to_redo(
    recovery_sim: SimFactory, run_bundle: Runner, report_schema: dict[str, Any]
) -> None:
    sim = recovery_sim(faults={"reprocess": {"fail_ids": [MATCHUP_IDS[1]]}})
    result = _apply(sim, run_bundle, "--jobs", "1")  # one at a time: the third waits on the second
    assert result.exit_code == 1, result.output
    assert result.step("reprocess", MATCHUP_IDS[2])["status"] == "skipped"
    assert result.report["ids_to_redo"] == [MATCHUP_IDS[1], MATCHUP_IDS[2]]
    jsonschema.validate(result.report, report_schema)


def test_nothing_to_redo_after_a_clean_apply_or_a_chosen_skip(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim()
    assert _apply(sim, run_bundle).report["ids_to_redo"] == []
    skipped = _apply(sim, run_bundle, "--skip-reprocess")
    assert skipped.report["ids_to_redo"] == []


def test_a_failed_ingest_puts_every_id_to_redo(
    recovery_sim: SimFactory, run_bundle: Runner
) -> None:
    sim = recovery_sim(faults={"ingest": {"always_fail": True}})
    result = _apply(sim, run_bundle)
    assert result.exit_code == 1, result.output
    assert result.report["ids_to_redo"] == list(MATCHUP_IDS[:3])
