"""End to end: the whole local stack in-process (moto server, state machine with the seam, SQS
poller, uvicorn), a fixture site on 127.0.0.1, a scan created and followed through HTTP."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.site.server import FixtureSite

pytestmark = pytest.mark.e2e


def _client(local_stack: Any, key: str) -> httpx.Client:
    return httpx.Client(base_url=local_stack.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _poll_until_finished(client: httpx.Client, location: str, bound_seconds: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + bound_seconds  # a liveness bound, not a speed assertion
    while True:
        response = client.get(location)
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(min(float(response.headers.get("Retry-After", "1")), 0.5))


def test_dev_env_file_holds_the_bootstrap_credentials(local_stack: Any) -> None:
    env = dict(
        line.split("=", 1)
        for line in Path(local_stack.env_file).read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert env["BOTSCOPE_API_KEY"].startswith("dxk_")
    assert env["BOTSCOPE_ENTERPRISE_API_KEY"].startswith("dxk_")
    assert env["BOTSCOPE_SESSION"]
    assert env["BOTSCOPE_API_URL"] == f"{local_stack.base_url}/api/v1"


def test_health_and_openapi_are_served(local_stack: Any) -> None:
    assert httpx.get(f"{local_stack.base_url}/api/v1/health").json() == {"status": "ok"}
    assert "/api/v1/scans" in httpx.get(f"{local_stack.base_url}/api/v1/openapi.json").json()["paths"]


def test_scan_lifecycle_through_http(local_stack: Any, clean_fixture_site: FixtureSite) -> None:
    with _client(local_stack, local_stack.credentials.growth_api_key) as client:
        # Given the growth workspace enrolls the fixture site while starting a scan
        created = client.post(
            "/api/v1/scans",
            json={"target_url": clean_fixture_site.url("/"), "scan_mode": "quick", "enroll_monitoring": True},
        )
        assert created.status_code == 202, created.text
        body = created.json()
        assert body["status"] == "queued" and body["scan_job_id"].startswith("scan_")
        location = created.headers["Location"]
        assert location.endswith(body["scan_job_id"])
        # When the workflow runs it to the end
        scan = _poll_until_finished(client, location)
        # Then it completed with every path run recorded
        assert scan["status"] == "completed", scan
        progress = scan["progress"]
        assert progress["path_runs_total"] == len(scan["path_runs"]) > 0
        assert progress["path_runs_completed"] + progress["path_runs_failed"] == progress["path_runs_total"]
        assert progress["percent"] == 100
        assert any(run["http_status"] == 200 for run in scan["path_runs"])
        # and the site really was probed, by more than one client profile
        assert len(clean_fixture_site.requests) >= progress["path_runs_total"]
        # and findings and the report are readable
        findings = client.get(f"{location}/findings")
        assert findings.status_code == 200, findings.text
        assert findings.json()["scan_job_id"] == body["scan_job_id"]
        assert isinstance(findings.json()["findings"], list)
        report = client.get(f"{location}/report")
        assert report.status_code == 200, report.text
        assert report.json()["scan_job_id"] == body["scan_job_id"]
        assert report.json()["target_url"] == body["target_url"]
        # and the scan is listed
        listed = client.get("/api/v1/scans").json()["data"]
        assert body["scan_job_id"] in [s["scan_job_id"] for s in listed]


def test_another_workspace_cannot_see_the_scan(local_stack: Any, clean_fixture_site: FixtureSite) -> None:
    with _client(local_stack, local_stack.credentials.enterprise_api_key) as enterprise:
        created = enterprise.post(
            "/api/v1/scans", json={"target_url": clean_fixture_site.url("/other"), "scan_mode": "quick"}
        )
        assert created.status_code == 202, created.text
        location = created.headers["Location"]
        assert _poll_until_finished(enterprise, location)["status"] == "completed"
    with _client(local_stack, local_stack.credentials.growth_api_key) as growth:
        assert growth.get(location).status_code == 404


def test_an_unreachable_target_fails_with_target_unreachable(local_stack: Any) -> None:
    import socket

    with socket.socket() as sock:  # bound then closed: nothing listens on this port
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with _client(local_stack, local_stack.credentials.enterprise_api_key) as client:
        created = client.post(
            "/api/v1/scans", json={"target_url": f"http://127.0.0.1:{port}/", "scan_mode": "quick"}
        )
        assert created.status_code == 202, created.text
        scan = _poll_until_finished(client, created.headers["Location"])
        # never "completed" with posture none: failed, with the code and a public message
        assert scan["status"] == "failed", scan
        assert scan["error"]["code"] == "target_unreachable"
        assert "127.0.0.1" not in scan["error"]["message"]
        assert all(run["status"] == "failed" for run in scan["path_runs"])
        # and there is no report to read
        report = client.get(f"{created.headers['Location']}/report")
        assert report.status_code == 409
