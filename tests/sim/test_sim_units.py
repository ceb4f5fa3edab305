"""Unit tests of the simulated service's pure parts: dataset, records, views, paths, TOML, faults."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from recovery_plugin.config import SUMMARY_KEYS
from recovery_plugin.sim import data, faults, paths, store, toml_writer, views
from recovery_plugin.sim.harness import SimulatedService
from recovery_plugin.sim.records import IngestPayloadError, parse_ingest_payload

MATCHUP_KEYS = [
    "matchup_id",
    "region_code",
    "office_type",
    "title",
    "canonical_title",
    "article_title",
    "has_data",
    "fallback_mode",
    "incumbent_candidates",
    "pollster",
    "survey_start_date",
    "survey_end_date",
    "confidence_level",
    "sample_size",
    "response_rate",
    "margin_of_error",
    "source_grade",
    "audience_scope",
    "audience_region_code",
    "sampling_population_text",
    "legal_completeness_score",
    "legal_filled_count",
    "legal_required_count",
    "date_resolution",
    "date_inference_mode",
    "date_inference_confidence",
    "nesdc_enriched",
    "needs_manual_review",
    "candidate_noise_block_count",
    "source_priority",
    "official_release_at",
    "article_published_at",
    "freshness_hours",
    "is_official_confirmed",
    "poll_fingerprint",
    "source_channel",
    "source_channels",
    "source_trace",
    "verified",
    "scenarios",
    "options",
]
OPTION_KEYS = [
    "option_name",
    "candidate_id",
    "party_name",
    "name_validity",
    "scenario_key",
    "scenario_type",
    "scenario_title",
    "value_mid",
    "value_raw",
    "party_inferred",
    "party_inference_source",
    "party_inference_confidence",
    "party_inference_evidence",
    "candidate_verified",
    "candidate_verify_source",
    "candidate_verify_confidence",
    "candidate_verify_matched_key",
    "needs_manual_review",
]


# --- dataset and records ------------------------------------------------------------------------


def test_sample_file_matches_builder() -> None:
    shipped = json.loads(data.SAMPLE_INGEST_PATH.read_text(encoding="utf-8"))
    assert shipped == data.build_ingest_payload()


def test_sample_ids() -> None:
    assert data.DEFAULT_MATCHUP_ID == "20260603|광역자치단체장|11-000"
    assert data.MATCHUP_IDS[0] == data.DEFAULT_MATCHUP_ID
    for required in ("26-000", "41-000"):
        assert f"20260603|광역자치단체장|{required}" in data.MATCHUP_IDS
    assert "20260603|기초자치단체장|11-110" in data.MATCHUP_IDS
    assert len(set(data.MATCHUP_IDS)) == len(data.MATCHUP_IDS) == 6
    for mid in data.MATCHUP_IDS:
        date, office, region = mid.split("|")
        assert len(date) == 8 and date.isdigit() and office and region


def test_build_subset_and_unknown() -> None:
    subset = data.build_ingest_payload((data.DEFAULT_MATCHUP_ID,))
    assert [r["observation"]["matchup_id"] for r in subset["records"]] == [data.DEFAULT_MATCHUP_ID]
    with pytest.raises(KeyError, match="nope"):
        data.build_ingest_payload(("nope",))


def test_records_fingerprints_are_distinct_sha256() -> None:
    records = parse_ingest_payload(data.build_ingest_payload())
    fingerprints = {r.poll_fingerprint for r in records}
    assert len(fingerprints) == len(records) == 6
    assert all(len(fp) == 64 and int(fp, 16) >= 0 for fp in fingerprints)
    seoul = records[0]
    assert seoul.option_count == 3 and seoul.matchup_id == data.DEFAULT_MATCHUP_ID


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ([], "body"),
        ({"records": {}}, "body.records"),
        ({"records": [{"observation": {}, "scenarios": []}]}, "records[0].observation.matchup_id"),
        (
            {"records": [{**data.build_ingest_payload()["records"][0], "scenarios": [{}]}]},
            "records[0].scenarios[0].options",
        ),
    ],
)
def test_records_errors_name_the_field(payload: object, where: str) -> None:
    with pytest.raises(IngestPayloadError, match="^" + re.escape(where)):
        parse_ingest_payload(payload)


def test_matchup_view_shape_for_every_sample(tmp_path: Path) -> None:
    svc = SimulatedService(tmp_path)
    svc.seed()
    with store.open_db(svc.db_path) as conn:
        rows = [store.get_matchup(conn, mid) for mid in data.MATCHUP_IDS]
        counts = store.scope_counts(conn)
    assert counts == {"national": 0, "regional": 3, "local": 2, "unknown": 1}
    for mid, row in zip(data.MATCHUP_IDS, rows, strict=True):
        assert row is not None
        body = views.matchup_body(row)
        assert list(body) == MATCHUP_KEYS
        assert body["matchup_id"] == mid and body["has_data"] is True
        assert body["options"] == body["scenarios"][0]["options"]
        for scenario in body["scenarios"]:
            for option in scenario["options"]:
                assert list(option) == OPTION_KEYS
    summary = views.summary_body(counts, None)
    assert tuple(summary) == SUMMARY_KEYS  # the summary keys the default profile expects


# --- artifact paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "matchup_id",
    [
        data.DEFAULT_MATCHUP_ID,
        "../../etc|passwd/..|x",
        "a/b\\c\x00\n\x1b|..|.",
        "|".join(["광역자치단체장"] * 3),
        "x" * 5000,
    ],
)
def test_artifact_dirname_is_safe(tmp_path: Path, matchup_id: str) -> None:
    name = paths.artifact_dirname("apply", matchup_id, "../fp")
    assert "/" not in name and "\\" not in name and "." not in name
    assert all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in name)
    assert len(name) < 100
    child = paths.safe_child(tmp_path, name)
    assert child.parent == tmp_path.resolve()


def test_artifact_dirname_examples() -> None:
    name = paths.artifact_dirname("apply", data.DEFAULT_MATCHUP_ID, None)
    assert name.startswith("manual_apply_20260603_11-000_") and name.endswith("_no_fp")
    other = paths.artifact_dirname("apply", "20260603|교육감|11-000", None)
    assert other != name
    assert paths.artifact_dirname("dry-run", None, "abc123").endswith("fp_only_fp_abc123")


@pytest.mark.parametrize("name", ["..", ".", "", "a/../../b"])
def test_safe_child_refuses_escape(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="refusing"):
        paths.safe_child(tmp_path, name)


# --- TOML writer and runbook --------------------------------------------------------------------


def test_toml_writer_round_trip() -> None:
    document = {
        "a": 'ünïcode "quoted" \\ back\nslash',
        "n": 3,
        "f": 0.25,
        "b": False,
        "lst": ["x", "y"],
        "nums": [1, 2],
        "weird key": "v",
        "t": {"k": 1, "sub": {"deep": True}},
        "only_tables": {"one": {"x": 1}, "two": {"y": "z"}},
    }
    assert tomllib.loads(toml_writer.dumps(document)) == document


def test_toml_writer_refuses_unsupported() -> None:
    with pytest.raises(ValueError, match="cannot write"):
        toml_writer.dumps({"x": None})
    with pytest.raises(ValueError, match="non-finite"):
        toml_writer.dumps({"x": float("nan")})


def test_runbook_default_and_overrides(tmp_path: Path) -> None:
    svc = SimulatedService(tmp_path / "svc", port=12345, token="tok")
    default = tomllib.loads(svc.write_runbook().read_text(encoding="utf-8"))
    assert default["api_base"] == "http://127.0.0.1:12345"
    assert default["input"] == str(data.SAMPLE_INGEST_PATH)
    assert default["required_env"] == ["DATABASE_URL", "INTERNAL_JOB_TOKEN"]
    assert default["env"] == {
        "DATABASE_URL": f"sqlite:///{tmp_path.absolute()}/svc/sim.db",
        "INTERNAL_JOB_TOKEN": "tok",
        "RECOVERY_SIM_FAULTS": str(tmp_path.absolute() / "svc" / "faults.json"),
    }
    assert default["env"]["DATABASE_URL"].startswith("sqlite:////")
    assert default["steps"]["ingest"]["command"][:3] == [
        "{python}",
        "-m",
        "recovery_plugin.sim.ingest",
    ]
    assert default["steps"]["reprocess"]["command"][-2:] == ["--report", "{step_report}"]
    assert default["steps"]["ingest"]["timeout"] == 60
    other = tmp_path / "other.toml"
    written = svc.write_runbook(
        other, api_base="http://x", steps={"ingest": {"retries": 2, "backoff": 0.01}}, input=None
    )
    assert written == other
    merged = tomllib.loads(other.read_text(encoding="utf-8"))
    assert merged["api_base"] == "http://x" and "input" not in merged
    assert merged["steps"]["ingest"]["retries"] == 2
    assert merged["steps"]["ingest"]["backoff"] == 0.01
    assert merged["steps"]["ingest"]["timeout"] == 60
    assert merged["steps"]["reprocess"] == default["steps"]["reprocess"]


def test_database_url_parsing() -> None:
    assert store.parse_database_url("sqlite:////abs/sim.db") == Path("/abs/sim.db")
    for bad in ("postgresql://u@h/db", "sqlite:///relative.db", "sqlite:////a.db?mode=ro", ""):
        with pytest.raises(store.StoreError, match="sqlite:////"):
            store.parse_database_url(bad)


# --- faults schema ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"ingest": {"fail_time": 1}}, "unknown key 'ingest.fail_time'"),
        ({"bogus": {}}, "unknown key 'bogus'"),
        ({"endpoints": {"health": {"stauts": 500}}}, "unknown key 'endpoints.health.stauts'"),
        ({"endpoints": {"capture": {}}}, "unknown endpoint target 'capture'"),
        ({"endpoints": {"matchup:": {}}}, "unknown endpoint target"),
        ({"ingest": {"fail_times": -1}}, "ingest.fail_times: must be an integer >= 0"),
        ({"ingest": {"fail_times": True}}, "ingest.fail_times"),
        ({"ingest": {"exit_code": 256}}, r"ingest.exit_code: must be an integer 0\.\.255"),
        ({"ingest": {"hang": "yes"}}, "ingest.hang: must be true or false"),
        ({"ingest": {"delay": -0.1}}, "ingest.delay"),
        ({"reprocess": {"fail_ids": "x"}}, "reprocess.fail_ids: must be a list"),
        ({"endpoints": {"health": {"status": 42}}}, r"endpoints.health.status: .*100\.\.599"),
        ({"endpoints": {"health": {"huge_mb": 0}}}, "endpoints.health.huge_mb"),
        ({"endpoints": {"summary": {"not_json": True, "not_utf8": True}}}, "exclude each other"),
        ({"endpoints": {"summary": {"drop": True, "status": 500}}}, "drop cannot be combined"),
        ({"service": {"start_delay": "1"}}, "service.start_delay"),
        ([], "must be an object"),
    ],
)
def test_faults_validation_names_the_key(raw: Any, message: str) -> None:
    with pytest.raises(faults.FaultsError, match=message):
        faults.parse_faults(raw, "F")


def test_faults_load_json_toml_and_absent(tmp_path: Path) -> None:
    assert faults.load_faults(tmp_path / "absent.json") is faults.NO_FAULTS
    assert faults.load_faults(None) is faults.NO_FAULTS
    toml_file = tmp_path / "f.toml"
    toml_file.write_text(
        '[ingest]\nfail_times = 2\n[endpoints."matchup:a|b"]\nstatus = 500\n', encoding="utf-8"
    )
    loaded = faults.load_faults(toml_file)
    assert loaded.ingest.fail_times == 2
    fault = loaded.endpoint("matchup", "a|b")
    assert fault is not None and fault.status == 500
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(faults.FaultsError, match=r"bad\.json: not valid JSON"):
        faults.load_faults(bad)


def test_endpoint_precedence() -> None:
    parsed = faults.parse_faults(
        {"endpoints": {"matchup": {"status": 500}, "matchup:x/y": {"status": 418}}}
    )
    specific = parsed.endpoint("matchup", "x/y")
    generic = parsed.endpoint("matchup", "other")
    assert specific is not None and specific.status == 418
    assert generic is not None and generic.status == 500
    assert parsed.endpoint("health") is None
    body_fault = faults.parse_faults({"endpoints": {"health": {"body": None}}}).endpoint("health")
    assert body_fault is not None and body_fault.has_body and body_fault.replaces_response
    delay_only = faults.parse_faults({"endpoints": {"health": {"delay": 1}}}).endpoint("health")
    assert delay_only is not None and not delay_only.replaces_response


def test_ingest_failure_decisions() -> None:
    assert faults.IngestFaults().injected_failure(0) is None
    assert faults.IngestFaults().injected_failure(1) is None
    twice = faults.IngestFaults(fail_times=2)
    assert [twice.injected_failure(n) for n in (1, 2, 3)] == [
        "injected_fail_times",
        "injected_fail_times",
        None,
    ]
    assert faults.IngestFaults(exit_code=3).injected_failure(7) == "injected_exit_code"
    assert faults.IngestFaults(exit_code=3).failure_exit_code == 3
    assert faults.IngestFaults(always_fail=True).injected_failure(99) == "injected_always_fail"


def test_invocation_counter_persists_and_resets(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    faults.write_faults(path, {"ingest": {"fail_times": 1}})
    one = faults.IngestFaults(fail_times=1)
    assert [faults.next_invocation(path, "ingest", one) for _ in range(3)] == [1, 2, 3]
    assert faults.state_path_for(path).name == "faults.json.state.json"
    two = faults.IngestFaults(fail_times=2)
    assert faults.next_invocation(path, "ingest", two) == 1  # config changed: restart
    faults.write_faults(path, {"ingest": {"fail_times": 2}})  # rewriting resets the state
    assert faults.next_invocation(path, "ingest", two) == 1
    faults.write_faults(path, None)
    assert not path.exists()
    with pytest.raises(faults.FaultsError, match="unknown key"):
        faults.write_faults(path, {"nope": 1})
    assert faults.hang_pid_path(path, "ingest") == tmp_path / "ingest-hang.pids.json"


def test_fault_watcher_reloads(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    errors: list[str] = []
    watcher = faults.FaultWatcher(path, on_error=errors.append)
    assert watcher.current() is faults.NO_FAULTS
    faults.write_faults(path, {"endpoints": {"health": {"status": 500}}})
    first = watcher.current().endpoint("health")
    assert first is not None and first.status == 500
    faults.write_faults(path, {"endpoints": {"health": {"status": 503}}})  # same size
    second = watcher.current().endpoint("health")
    assert second is not None and second.status == 503
    path.write_text('{"oops": 1}', encoding="utf-8")
    kept = watcher.current().endpoint("health")
    assert kept is not None and kept.status == 503
    assert errors and "unknown key 'oops'" in errors[0]
    path.unlink()
    assert watcher.current() is faults.NO_FAULTS


def test_harness_rejects_bad_faults(tmp_path: Path) -> None:
    with pytest.raises(faults.FaultsError, match=r"unknown key 'ingest\.nope'"):
        SimulatedService(tmp_path, faults={"ingest": {"nope": 1}})


def test_runbook_writer_handles_arrays_of_tables() -> None:
    import tomllib

    from recovery_plugin.sim.toml_writer import dumps

    document = {
        "api_base": "http://127.0.0.1:1",
        "endpoints": [{"name": "health", "path": "/health", "expect_json": {"status": "ok"}}],
        "steps": {"ingest": {"retries": 1}},
    }
    assert tomllib.loads(dumps(document)) == document
