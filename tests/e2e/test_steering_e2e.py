"""End to end on the local stack: cancel a running full scan (execution stopped, no probe reaches the
fixture site after the cancel, ``scan.cancelled`` delivered and verified by ``standardwebhooks``),
and rescan a monitored URL now."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.fixtures.site.server import FixtureSite
from tests.integration.webhooks.support import receiver

pytestmark = pytest.mark.e2e


def _wait(predicate: Any, bound_seconds: float = 90) -> bool:
    deadline = time.monotonic() + bound_seconds  # a liveness bound, not a speed assertion
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def _client(local_stack: Any) -> httpx.Client:
    return httpx.Client(
        base_url=local_stack.base_url,
        timeout=30,
        headers={"Authorization": f"Bearer {local_stack.credentials.enterprise_api_key}"},
    )


def test_cancel_a_running_full_scan(local_stack: Any) -> None:
    from botscope.store import scans

    with FixtureSite(scenario="clean") as site, receiver() as rx, _client(local_stack) as client:
        hook = client.post(
            "/api/v1/webhooks", json={"label": "cancel", "url": rx.url(), "event_types": ["scan.cancelled"]}
        )
        assert hook.status_code == 201, hook.text
        # Given a full scan whose probes are waiting for the site's answers (Prepare's are answered)
        site.gate = threading.Event()
        scan_ids: list[str] = []
        site.gate_when = lambda: (
            bool(scan_ids) and bool(getattr(scans.get_scan(scan_ids[0]), "path_runs_total", None))
        )
        created = client.post("/api/v1/scans", json={"target_url": site.url("/"), "scan_mode": "full"})
        assert created.status_code == 202, created.text
        scan_id = created.json()["scan_job_id"]
        scan_ids.append(scan_id)
        try:

            def probes_in_flight() -> bool:
                running = [
                    r
                    for r in client.get(f"/api/v1/scans/{scan_id}").json()["path_runs"]
                    if r["status"] == "running"
                ]
                return bool(running) and site.in_flight == len(running)

            assert _wait(probes_in_flight)
            requests_at_cancel = len(site.requests)
            # When the scan is cancelled over HTTP
            cancelled = client.post(f"/api/v1/scans/{scan_id}/cancel")
        finally:
            site.gate.set()
        # Then 202, the scan cancelled
        assert cancelled.status_code == 202, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        # and the execution is stopped
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = scans.get_scan(scan_id).execution_arn
        assert _wait(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING")
        # and once the probes in flight settled, no further request reached the site
        assert _wait(
            lambda: all(
                r["status"] in ("completed", "failed", "cancelled")
                for r in client.get(f"/api/v1/scans/{scan_id}").json()["path_runs"]
            )
        )
        assert _wait(lambda: site.in_flight == 0)
        assert len(site.requests) == requests_at_cancel
        final = client.get(f"/api/v1/scans/{scan_id}").json()
        assert final["status"] == "cancelled" and final["progress"]["path_runs_cancelled"] >= 1
        # and the partial report is marked incomplete
        report = client.get(f"/api/v1/scans/{scan_id}/report")
        assert report.status_code == 200 and report.json()["complete"] is False
        # and scan.cancelled was delivered, signed
        assert _wait(lambda: len(rx.requests) >= 1)
        (delivery,) = rx.requests
        event = Webhook(hook.json()["secret"]).verify(delivery.body, delivery.headers)
        assert event["type"] == "scan.cancelled" and event["data"]["scan_job_id"] == scan_id
        # and a second cancel changes nothing
        assert client.post(f"/api/v1/scans/{scan_id}/cancel").status_code == 200


def test_rescan_a_monitored_url_now(local_stack: Any) -> None:
    with FixtureSite(scenario="clean") as site, _client(local_stack) as client:
        first = client.post(
            "/api/v1/scans",
            json={"target_url": site.url("/"), "scan_mode": "quick", "enroll_monitoring": True},
        )
        assert first.status_code == 202, first.text
        mon_id = first.json()["monitoring"]["monitored_url_id"]
        assert client.post(f"/api/v1/scans/{first.json()['scan_job_id']}/cancel").status_code == 202
        assert client.patch(f"/api/v1/monitoring/{mon_id}", json={"scan_mode": "quick"}).status_code == 200

        rescan = client.post(f"/api/v1/monitoring/{mon_id}/rescan")

        assert rescan.status_code == 202, rescan.text
        new_id = rescan.json()["scan_job_id"]
        assert new_id != first.json()["scan_job_id"]
        assert client.post(f"/api/v1/monitoring/{mon_id}/rescan").status_code in (409, 429)

        def finished() -> bool:
            return client.get(rescan.headers["location"]).json()["status"] in ("completed", "failed")

        assert _wait(finished, 180)
        assert client.get(rescan.headers["location"]).json()["status"] == "completed"
        detail = client.get(f"/api/v1/monitoring/{mon_id}").json()
        assert detail["last_scan"]["scan_job_id"] == new_id and detail["running_scan"] is None
