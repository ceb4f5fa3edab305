"""Endpoint faults of a running simulated seeded_sim, changed while it runs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from recovery_plugin.sim.data import DEFAULT_MATCHUP_ID, MATCHUP_IDS
from recovery_plugin.sim.harness import SimulatedService


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def _vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_status_fault_and_change_while_running(
    seeded_sim: SimulatedService, client: httpx.Client
) -> None:
    assert client.get(seeded_sim.url("/health")).status_code == 200
    seeded_sim.set_faults({"endpoints": {"health": {"status": 503}}})
    response = client.get(seeded_sim.url("/health"))
    assert response.status_code == 503 and response.json() == {"detail": "injected fault"}
    seeded_sim.set_faults({"endpoints": {"health": {"status": 500, "body": {"x": "몸"}}}})
    response = client.get(seeded_sim.url("/health"))
    assert response.status_code == 500 and response.json() == {"x": "몸"}
    seeded_sim.set_faults({"endpoints": {"summary": {"body": {"wrong": "shape"}}}})
    assert client.get(seeded_sim.url("/health")).status_code == 200
    assert client.get(seeded_sim.url("/api/v1/dashboard/summary")).json() == {"wrong": "shape"}
    seeded_sim.set_faults(None)
    assert client.get(seeded_sim.url("/api/v1/dashboard/summary")).status_code == 200


def test_not_json(seeded_sim: SimulatedService, client: httpx.Client) -> None:
    seeded_sim.set_faults({"endpoints": {"summary": {"not_json": True}}})
    response = client.get(seeded_sim.url("/api/v1/dashboard/summary"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.content == b"<html>oops</html>"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_not_utf8(seeded_sim: SimulatedService, client: httpx.Client) -> None:
    seeded_sim.set_faults({"endpoints": {"health": {"not_utf8": True}}})
    response = client.get(seeded_sim.url("/health"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b'{"status": "\xff\xfe"}'
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")


def test_delay(seeded_sim: SimulatedService, client: httpx.Client) -> None:
    seeded_sim.set_faults({"endpoints": {"health": {"delay": 0.4}}})
    started = time.monotonic()
    response = client.get(seeded_sim.url("/health"))
    assert time.monotonic() - started >= 0.4
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    with pytest.raises(httpx.ReadTimeout):
        client.get(seeded_sim.url("/health"), timeout=0.1)


def test_huge_body_has_exact_length(seeded_sim: SimulatedService, client: httpx.Client) -> None:
    seeded_sim.set_faults({"endpoints": {"summary": {"huge_mb": 2}}})
    response = client.get(seeded_sim.url("/api/v1/dashboard/summary"))
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == 2 * 1024 * 1024 == len(response.content)
    assert json.loads(response.content)["detail"] == "injected huge body"


def test_huge_body_is_streamed(seeded_sim: SimulatedService, client: httpx.Client) -> None:
    pid = seeded_sim.pid
    assert pid is not None
    seeded_sim.set_faults({"endpoints": {"health": {"huge_mb": 96}}})
    received = 0
    with client.stream("GET", seeded_sim.url("/health")) as response:
        assert int(response.headers["content-length"]) == 96 * 1024 * 1024
        for chunk in response.iter_raw():
            received += len(chunk)
    assert received == 96 * 1024 * 1024
    assert _vm_hwm_kib(pid) < 64 * 1024  # peak RSS well below the body size


def test_drop(seeded_sim: SimulatedService, client: httpx.Client) -> None:
    seeded_sim.set_faults({"endpoints": {"health": {"drop": True}}})
    with pytest.raises(httpx.TransportError):
        client.get(seeded_sim.url("/health"))
    assert '"GET /health HTTP/1.1" dropped' in seeded_sim.access_log_path.read_text(
        encoding="utf-8"
    )
    seeded_sim.set_faults(None)
    assert client.get(seeded_sim.url("/health")).status_code == 200


def test_redirect_loop(seeded_sim: SimulatedService) -> None:
    seeded_sim.set_faults({"endpoints": {"summary": {"redirect_loop": True}}})
    with (
        httpx.Client(timeout=10, follow_redirects=True) as client,
        pytest.raises(httpx.TooManyRedirects),
    ):
        client.get(seeded_sim.url("/api/v1/dashboard/summary"))
    with httpx.Client(timeout=10) as client:
        response = client.get(seeded_sim.url("/api/v1/dashboard/summary?x=1"))
        assert response.status_code == 302
        assert response.headers["location"] == "/api/v1/dashboard/summary?x=1"


def test_matchup_specific_fault_wins(seeded_sim: SimulatedService, client: httpx.Client) -> None:
    other = MATCHUP_IDS[1]
    seeded_sim.set_faults(
        {
            "endpoints": {
                "matchup": {"status": 500},
                f"matchup:{DEFAULT_MATCHUP_ID}": {"status": 418},
            }
        }
    )
    assert client.get(seeded_sim.matchup_url(DEFAULT_MATCHUP_ID)).status_code == 418
    assert client.get(seeded_sim.matchup_url(other)).status_code == 500
    assert client.get(seeded_sim.url("/health")).status_code == 200
    seeded_sim.set_faults({"endpoints": {f"matchup:{DEFAULT_MATCHUP_ID}": {"status": 418}}})
    assert client.get(seeded_sim.matchup_url(other)).status_code == 200


def test_invalid_faults_file_keeps_previous(
    seeded_sim: SimulatedService, client: httpx.Client
) -> None:
    seeded_sim.set_faults({"endpoints": {"health": {"status": 502}}})
    assert client.get(seeded_sim.url("/health")).status_code == 502
    seeded_sim.faults_path.write_text('{"endpoints": {"helth": {}}}', encoding="utf-8")
    assert client.get(seeded_sim.url("/health")).status_code == 502
    assert "unknown endpoint target 'helth'" in seeded_sim.log_path.read_text(encoding="utf-8")
