"""The simulated service over real HTTP: routes, shapes, ingest job endpoint, percent-encoding."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID, MATCHUP_IDS, build_ingest_payload
from recovery_plugin.sim.harness import SimulatedService

SUMMARY_KEYS = {
    "as_of",
    "selection_policy_version",
    "data_source",
    "party_support",
    "president_job_approval",
    "election_frame",
    "presidential_approval",
    "presidential_approval_deprecated",
    "scope_breakdown",
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedService]:
    svc = SimulatedService(tmp_path_factory.mktemp("sim-service"))
    with svc:
        yield svc


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def test_health(service: SimulatedService, client: httpx.Client) -> None:
    response = client.get(service.url("/health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["content-length"] == str(len(response.content))


def test_keep_alive(service: SimulatedService) -> None:
    conn = http.client.HTTPConnection(service.host, service.port, timeout=5)
    try:
        for _ in range(3):
            conn.request("GET", "/health")
            response = conn.getresponse()
            assert response.status == 200
            assert json.loads(response.read()) == {"status": "ok"}
            assert not response.will_close
    finally:
        conn.close()


def test_unknown_routes_are_404(service: SimulatedService, client: httpx.Client) -> None:
    for method, path in [
        ("GET", "/nope"),
        ("GET", "/health/"),
        ("POST", "/health"),
        ("GET", "/api/v1/matchups/"),
        ("GET", "/api/v1/matchups/a/b"),
        ("GET", "/api/v1/jobs/ingest"),
        ("DELETE", "/api/v1/dashboard/summary"),
    ]:
        response = client.request(method, service.url(path))
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "Not Found"}


def test_ingest_endpoint_auth_and_validation(
    service: SimulatedService, client: httpx.Client
) -> None:
    url = service.url("/api/v1/jobs/ingest")
    payload: dict[str, list[object]] = {"records": []}
    assert client.post(url, json=payload).status_code == 401
    wrong = client.post(url, json=payload, headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "invalid token"}
    auth = {"Authorization": f"Bearer {service.token}"}
    bad = client.post(url, content=b"{not json", headers=auth)
    assert bad.status_code == 422 and "invalid JSON" in bad.json()["detail"]
    shape = client.post(url, json={"records": [{}]}, headers=auth)
    assert shape.status_code == 422 and shape.json()["detail"].startswith("records[0]")
    empty = client.post(url, json=payload, headers=auth)
    assert empty.status_code == 200
    assert empty.json()["status"] == "success" and empty.json()["processed_count"] == 0


def test_summary_matchup_before_and_after_ingest(client: httpx.Client, tmp_path: Path) -> None:
    with SimulatedService(tmp_path / "svc") as service:
        _check_before_and_after_ingest(service, client, tmp_path)


def _check_before_and_after_ingest(
    service: SimulatedService, client: httpx.Client, tmp_path: Path
) -> None:
    summary = client.get(service.url("/api/v1/dashboard/summary"))
    assert summary.status_code == 200
    body = summary.json()
    assert set(body) == SUMMARY_KEYS
    assert body["selection_policy_version"] == "summary_single_set_v1"
    assert body["data_source"] == "article"
    assert body["scope_breakdown"] == {"national": 0, "regional": 0, "local": 0, "unknown": 0}
    assert body["as_of"] is None

    before = client.get(service.matchup_url(DEFAULT_MATCHUP_ID))
    assert before.status_code == 404 and before.json() == {"detail": "matchup not found"}

    report = tmp_path / "ingest_report.json"
    result = service.run_ingest(report, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "[ingest]" in result.stdout
    ingest = json.loads(report.read_text(encoding="utf-8"))
    assert ingest["success"] is True and ingest["run_ids"] and ingest["failure_class"] is None

    encoded = quote(DEFAULT_MATCHUP_ID, safe="")
    assert "%7C" in encoded and "|" not in encoded
    after = client.get(service.url(f"/api/v1/matchups/{encoded}"))
    assert after.status_code == 200
    assert after.headers["content-type"] == "application/json; charset=utf-8"
    assert "광역자치단체장".encode() in after.content  # Hangul unescaped on the wire
    matchup = after.json()
    assert len(matchup) == 41
    assert matchup["matchup_id"] == DEFAULT_MATCHUP_ID
    assert matchup["title"] == "서울시장" and matchup["has_data"] is True
    assert matchup["fallback_mode"] == "none" and matchup["scenarios"] and matchup["options"]
    assert len(matchup["poll_fingerprint"]) == 64
    assert matchup["source_trace"]["source_channel"] == "article"

    for mid in MATCHUP_IDS:  # every sample id, including the one with a space and '+'
        response = client.get(service.matchup_url(mid))
        assert response.status_code == 200, mid
        assert response.json()["matchup_id"] == mid
    counts = client.get(service.url("/api/v1/dashboard/summary")).json()
    assert counts["scope_breakdown"] == {"national": 0, "regional": 3, "local": 2, "unknown": 1}
    assert counts["as_of"] is not None


def test_encoded_slash_is_one_segment(service: SimulatedService, client: httpx.Client) -> None:
    odd = "20260603|광역자치단체장|11-000/extra"
    response = client.get(service.url("/api/v1/matchups/" + quote(odd, safe="")))
    assert response.status_code == 404
    assert response.json() == {"detail": "matchup not found"}
    plus = client.get(service.url("/api/v1/matchups/a+b%20c"))
    assert plus.json() == {"detail": "matchup not found"}


def test_reingest_is_idempotent(service: SimulatedService, client: httpx.Client) -> None:
    url = service.url("/api/v1/jobs/ingest")
    auth = {"Authorization": f"Bearer {service.token}"}
    first = client.post(url, json=build_ingest_payload(), headers=auth).json()
    second = client.post(url, json=build_ingest_payload(), headers=auth).json()
    assert second["run_id"] == first["run_id"] + 1
    assert first["processed_count"] == second["processed_count"] == len(MATCHUP_IDS)
    counts = client.get(service.url("/api/v1/dashboard/summary")).json()["scope_breakdown"]
    assert sum(counts.values()) == len(MATCHUP_IDS)
