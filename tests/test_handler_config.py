"""``on_failure`` and ``[steps.finally]`` in the runbook: the documented keys load, as documented."""

from __future__ import annotations

import re
from pathlib import Path

from recovery_plugin.config.loading import load_runbook
from recovery_plugin.config.schema import HandlerSpec

CONFIGURATION = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_the_documented_keys_table_loads_with_rollback_and_finally(tmp_path: Path) -> None:
    page = CONFIGURATION.read_text(encoding="utf-8")
    keys = page[page.index("## Keys") :]
    block = re.search(r"^```toml\n(.*?)^```", keys, re.MULTILINE | re.DOTALL)
    assert block is not None
    path = tmp_path / "recovery.toml"
    path.write_text(block.group(1), encoding="utf-8")

    runbook = load_runbook(path)

    assert runbook.steps["reprocess"].on_failure == HandlerSpec(
        command=("scripts/ops/undo_reprocess.sh", "{matchup_id}", "{step_report}"), timeout=300
    )
    final = runbook.steps["finally"]
    assert (final.name, final.command[-1], final.timeout) == ("finally", "{run_dir}", 120)
    assert runbook.steps["ingest"].on_failure is None
