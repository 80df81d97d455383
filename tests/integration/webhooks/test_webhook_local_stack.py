"""The local stack (``make run``): a webhook created over HTTP, its test event delivered by the
stack's SQS poller through the real handler, with retries on the compressed schedule."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.helpers.local_stack import running_local_stack
from tests.integration.webhooks.support import receiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_local_stack(
        tmp_path_factory.mktemp("botscope"), extra_env={"BOTSCOPE_WEBHOOK_RETRY_SCHEDULE": "0,0,0"}
    ) as running:
        yield running


def _wait_for(predicate, bound_seconds: float = 60) -> bool:
    deadline = time.monotonic() + bound_seconds  # a liveness bound, not a speed assertion
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_test_event_is_delivered_and_retried_on_the_local_stack(stack: Any) -> None:
    client = httpx.Client(
        base_url=stack.base_url,
        headers={"Authorization": f"Bearer {stack.credentials.growth_api_key}"},
        timeout=30,
    )
    with receiver(lambda request, index: (500, {}) if index == 0 else (200, {})) as rx:
        created = client.post(
            "/api/v1/webhooks", json={"label": "local", "url": rx.url(), "event_types": ["scan.completed"]}
        )
        assert created.status_code == 201, created.text
        webhook = created.json()
        queued = client.post(f"/api/v1/webhooks/{webhook['webhook_id']}/test").json()

        def delivered() -> bool:
            data = client.get(f"/api/v1/webhooks/{webhook['webhook_id']}/deliveries").json()["data"]
            return bool(data) and data[0]["status"] == "delivered"

        assert _wait_for(delivered)

    assert [r.headers["webhook-id"] for r in rx.requests] == [queued["event_id"]] * 2
    for request in rx.requests:
        assert Webhook(webhook["secret"]).verify(request.body, request.headers)["type"] == "webhook.test"
    (dlv,) = client.get(f"/api/v1/webhooks/{webhook['webhook_id']}/deliveries").json()["data"]
    assert [a["status_code"] for a in dlv["attempts"]] == [500, 200]


def test_manage_an_endpoint_on_the_local_stack(stack: Any) -> None:
    """410 disables the endpoint; PATCH re-enables it; after a rotation a delivery verifies with
    the old and the new secret; a redelivery repeats the event with the same webhook-id."""
    client = httpx.Client(
        base_url=stack.base_url,
        headers={"Authorization": f"Bearer {stack.credentials.growth_api_key}"},
        timeout=30,
    )
    with receiver(lambda request, index: (410, {}) if index == 0 else (200, {})) as rx:
        webhook = client.post(
            "/api/v1/webhooks",
            json={"label": "managed", "url": rx.url("/managed"), "event_types": ["scan.completed"]},
        ).json()
        wid = webhook["webhook_id"]
        assert client.post(f"/api/v1/webhooks/{wid}/test").status_code == 202
        assert _wait_for(lambda: client.get(f"/api/v1/webhooks/{wid}").json()["status"] == "disabled")

        enabled = client.patch(f"/api/v1/webhooks/{wid}", json={"enabled": True, "description": "back"})
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["status"] == "enabled" and enabled.json()["failing_since"] is None

        rotated = client.post(f"/api/v1/webhooks/{wid}/rotate-secret").json()
        queued = client.post(f"/api/v1/webhooks/{wid}/test").json()

        def delivered(event_id: str, attempts: int = 1) -> bool:
            data = client.get(f"/api/v1/webhooks/{wid}/deliveries").json()["data"]
            match = [d for d in data if d["event_id"] == event_id]
            return bool(match) and match[0]["status"] == "delivered" and len(match[0]["attempts"]) == attempts

        assert _wait_for(lambda: delivered(queued["event_id"]))
        again = client.post(f"/api/v1/webhooks/{wid}/deliveries/{queued['delivery_id']}/redeliver")
        assert again.status_code == 202, again.text
        assert _wait_for(lambda: delivered(queued["event_id"], attempts=2))

    after_rotation = rx.requests[1:]
    assert [r.headers["webhook-id"] for r in after_rotation] == [queued["event_id"]] * 2
    for request in after_rotation:
        for secret in (webhook["secret"], rotated["secret"]):
            assert Webhook(secret).verify(request.body, request.headers)["type"] == "webhook.test"
