"""End to end: monitoring on the whole local stack (moto server, the state machine with the seam,
the SQS poller delivering webhooks, uvicorn), with a 1-second monitoring interval.

A workspace subscribes a webhook receiver on 127.0.0.1 to ``monitoring.findings_changed``, enrolls
a fixture site, and the monitor scheduler function rescans it. An unchanged site produces no
delivery; after the fixture switches to blocking AI clients (robots.txt disallow + 403), exactly
one confirmed delivery arrives, on the second scan that sees the change, naming it. When the CAPTCHA
disappears from /login together with the AI block appearing, exactly one delivery arrives at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.site.server import FixtureSite
from tests.helpers.local_stack import running_local_stack
from tests.integration.webhooks.support import Receiver, receiver

pytestmark = pytest.mark.e2e

LIVENESS_SECONDS = 240  # bounds on waiting, not speed assertions


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_local_stack(
        tmp_path_factory.mktemp("botscope-monitoring"),
        extra_env={"BOTSCOPE_MONITOR_INTERVAL_SECONDS": "1", "BOTSCOPE_WEBHOOK_RETRY_SCHEDULE": "1,1,1"},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureSite]:
    with FixtureSite(scenario="clean") as running:
        yield running


@pytest.fixture(scope="module")
def hooks_receiver() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def _poll_scan(client: httpx.Client, scan_job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + LIVENESS_SECONDS
    while True:
        body = client.get(f"/api/v1/scans/{scan_job_id}").json()
        if body["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.3)


def _rescan(client: httpx.Client, workspace_id: str, monitored_url_id: str) -> dict[str, Any]:
    """Waits for the URL to be due, runs MonitorSchedulerFunction once, follows the scan it started."""
    from botscope.local.seam import LambdaContext, load_handler
    from botscope.store.monitoring import get_monitored

    before = get_monitored(workspace_id, monitored_url_id)
    assert before is not None
    deadline = time.monotonic() + 30
    while True:
        time.sleep(1.1)  # the monitoring interval is 1 s
        result = load_handler("monitor_scheduler")(
            {"source": "aws.scheduler", "detail": {}}, LambdaContext(function_name="MonitorSchedulerFunction")
        )
        item = get_monitored(workspace_id, monitored_url_id)
        if item and item.last_started_scan_job_id not in (None, before.last_started_scan_job_id):
            break
        assert time.monotonic() < deadline, result
    scan = _poll_scan(client, item.last_started_scan_job_id)
    assert scan["status"] == "completed", scan
    _wait_evaluated(workspace_id, monitored_url_id, scan["scan_job_id"])
    assert scan["monitoring"]["monitored_url_id"] == monitored_url_id and scan["scan_mode"] == "full"
    return scan


def _wait_evaluated(workspace_id: str, monitored_url_id: str, scan_job_id: str) -> None:
    """Finalize marks the scan completed before monitoring evaluates it: wait for the evaluation."""
    from botscope.store.monitoring import get_monitored

    def last_evaluated() -> str | None:
        item = get_monitored(workspace_id, monitored_url_id)
        return item.last_evaluated_scan_job_id if item else None

    deadline = time.monotonic() + 30
    while last_evaluated() != scan_job_id:
        assert time.monotonic() < deadline, "the scan was never evaluated by monitoring"
        time.sleep(0.2)


def _enroll(client: httpx.Client, url: str) -> tuple[str, str]:
    created = client.post(
        "/api/v1/scans", json={"target_url": url, "scan_mode": "full", "enroll_monitoring": True}
    )
    assert created.status_code == 202, created.text
    assert _poll_scan(client, created.json()["scan_job_id"])["status"] == "completed"
    workspace_id = _workspace_of(created.json()["scan_job_id"])
    monitored_url_id = created.json()["monitoring"]["monitored_url_id"]
    _wait_evaluated(workspace_id, monitored_url_id, created.json()["scan_job_id"])
    return workspace_id, monitored_url_id


def _changed_deliveries(
    hooks: Receiver, expected: int = 0, settle_seconds: float = 2.0
) -> list[dict[str, Any]]:
    """The deliveries so far: waits until ``expected`` arrived (the SQS poller delivers
    asynchronously), then ``settle_seconds`` more so that an unexpected extra one is seen too."""
    deadline = time.monotonic() + 30

    def received() -> list[dict[str, Any]]:
        with hooks.lock:
            bodies = [json.loads(r.body) for r in hooks.requests]
        return [b for b in bodies if b["type"] == "monitoring.findings_changed"]

    while len(received()) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(settle_seconds)
    return received()


def test_one_confirmed_delivery_for_a_changed_site_and_none_while_unchanged(
    stack: Any, site: FixtureSite, hooks_receiver: Receiver
) -> None:
    key = stack.credentials.growth_api_key
    with httpx.Client(
        base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        hook = client.post(
            "/api/v1/webhooks",
            json={
                "label": "monitoring",
                "url": hooks_receiver.url(),
                "event_types": ["monitoring.findings_changed"],
            },
        )
        assert hook.status_code == 201, hook.text

        # Given the fixture site is enrolled (its first scan is the baseline)
        workspace_id, monitored_url_id = _enroll(client, site.url("/"))
        listed = client.get("/api/v1/monitoring").json()
        entry = next(d for d in listed["data"] if d["monitored_url_id"] == monitored_url_id)

        # When it is rescanned unchanged, nothing is delivered
        _rescan(client, workspace_id, monitored_url_id)
        assert _changed_deliveries(hooks_receiver) == []
        assert entry["summary"] is not None

        # When the site starts blocking AI clients, the first scan that sees it delivers nothing ...
        site.set_scenario("ai_blocked")
        _rescan(client, workspace_id, monitored_url_id)
        assert _changed_deliveries(hooks_receiver) == []
        pending = next(
            d
            for d in client.get("/api/v1/monitoring").json()["data"]
            if d["monitored_url_id"] == monitored_url_id
        )
        assert pending["summary"]["pending_changes"] > 0

        # ... and the second one confirms it: exactly one delivery, naming the change
        confirming = _rescan(client, workspace_id, monitored_url_id)
        deliveries = _changed_deliveries(hooks_receiver, expected=1)
        assert len(deliveries) == 1, deliveries
        data = deliveries[0]["data"]
        assert (
            data["monitored_url_id"] == monitored_url_id and data["scan_job_id"] == confirming["scan_job_id"]
        )
        assert data["confirmation"] == "confirmed"
        robots = [
            c
            for c in data["changes"]
            if c["subject"] == "policy" and c["key"] == "robots_txt.ai_agents" and c["after"] == "disallowed"
        ]
        assert robots and "GPTBot" in robots[0]["names"], data["changes"]
        assert any(c["subject"] == "enforcement" and c["after"] == "enforced" for c in data["changes"]), data[
            "changes"
        ]

        # And a further unchanged rescan delivers nothing more
        _rescan(client, workspace_id, monitored_url_id)
        assert len(_changed_deliveries(hooks_receiver, expected=1)) == 1


def _workspace_of(scan_job_id: str) -> str:
    from botscope.store import scans

    scan = scans.get_scan(scan_job_id)
    assert scan is not None
    return str(scan.workspace_id)


def test_captcha_gone_from_login_is_one_immediate_delivery(stack: Any) -> None:
    key = stack.credentials.enterprise_api_key
    with (
        FixtureSite(scenario="login_captcha") as shop,
        receiver() as hooks,
        httpx.Client(
            base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as client,
    ):
        hook = client.post(
            "/api/v1/webhooks",
            json={
                "label": "monitoring-2",
                "url": hooks.url(),
                "event_types": ["monitoring.findings_changed"],
            },
        )
        assert hook.status_code == 201, hook.text
        workspace_id, monitored_url_id = _enroll(client, shop.url("/"))

        # When the login CAPTCHA disappears and the AI block appears in the same change of the site
        shop.set_scenario("ai_blocked")
        changed = _rescan(client, workspace_id, monitored_url_id)

        # Then the first scan that sees it delivers once, naming the CAPTCHA gone from /login
        (delivery,) = _changed_deliveries(hooks, expected=1)
        data = delivery["data"]
        assert data["confirmation"] == "immediate" and data["scan_job_id"] == changed["scan_job_id"]
        captcha_gone = [
            c
            for c in data["changes"]
            if c["subject"] == "finding"
            and c["measure"] == "captcha"
            and c["confirmed"]
            and "/login" in c["paths"]
        ]
        assert captcha_gone, data["changes"]
        assert any(c["key"] == "robots_txt.ai_agents" and c["confirmed"] is False for c in data["changes"])
        # and the scan that confirms the rest delivers nothing more
        _rescan(client, workspace_id, monitored_url_id)
        assert len(_changed_deliveries(hooks, expected=1)) == 1
