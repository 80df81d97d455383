"""The webhook repositories against moto: ``Webhook`` and ``Delivery`` declare every attribute
``botscope.store.webhooks`` writes, an update names only declared attributes, and
``botscope.store.delivery_queue`` batches, clips delays and finds the dead-letter queue."""

from __future__ import annotations

import pytest
from botscope.store import delivery_queue
from botscope.store import webhooks as store
from botscope.store.table import iso, table, utcnow
from botscope.webhooks import secrets

from tests.helpers.entities import undeclared_attributes
from tests.integration.webhooks.support import queue_counts, queue_messages

WEBHOOK_ID = "wh_00000000000000000000000001"


def _raw(key: dict[str, str]) -> dict:
    item = table().get_item(Key=key, ConsistentRead=True).get("Item")
    assert item is not None
    return item


def _create(workspace_id: str, url: str = "https://hooks.example.com/in") -> store.Webhook:
    return store.create_endpoint(
        workspace_id=workspace_id,
        webhook_id=WEBHOOK_ID,
        label="x",
        url=url,
        event_types=["scan.completed"],
        created_by="api_key:key_test",
        description="a receiver",
        **secrets.encrypt("whsec_" + "A" * 44, workspace_id=workspace_id, webhook_id=WEBHOOK_ID),
    )


def test_the_webhook_entity_declares_every_attribute_the_repository_writes(aws, principal_factory):
    principal, _ = principal_factory()
    ws = principal.workspace_id
    created = _create(ws)
    assert created.status == store.ENABLED and created.failing_since is None
    # Every writer of the endpoint item: a rotation and a PATCH, a failure streak, a disable.
    updated = store.update_endpoint(
        ws,
        WEBHOOK_ID,
        {
            "previous_secret_scheme": created.secret_scheme,
            "previous_secret_ciphertext": created.secret_ciphertext,
            "rotation_overlap_until": iso(utcnow()),
            "rotated_at": iso(utcnow()),
            "updated_at": iso(utcnow()),
            "url": "https://hooks.example.com/moved",
        },
        old_url=created.url,
    )
    assert updated is not None and updated.url == "https://hooks.example.com/moved"
    assert store.note_endpoint_failure(ws, WEBHOOK_ID, iso(utcnow())) is not None
    assert store.disable_endpoint(ws, WEBHOOK_ID, "test")

    raw = _raw({"pk": f"WS#{ws}", "sk": f"WH#{WEBHOOK_ID}"})
    assert undeclared_attributes(store.Webhook, raw) == set()
    endpoint = store.get_endpoint(ws, WEBHOOK_ID)
    assert endpoint is not None and endpoint.status == store.DISABLED and endpoint.failing_since
    assert store.list_endpoints(ws) == [endpoint]


def test_an_update_names_only_attributes_the_entity_declares(aws, principal_factory):
    principal, _ = principal_factory()
    created = _create(principal.workspace_id)
    with pytest.raises(ValueError, match="not webhook attributes"):
        store.update_endpoint(principal.workspace_id, WEBHOOK_ID, {"lable": "typo"})
    assert store.get_endpoint(principal.workspace_id, WEBHOOK_ID) == created


def test_moving_the_url_frees_the_old_one_and_refuses_a_taken_one(aws, principal_factory):
    principal, _ = principal_factory()
    ws = principal.workspace_id
    first = _create(ws, "https://hooks.example.com/a")
    other = store.create_endpoint(
        **{
            **first.model_dump(include={"workspace_id", "label", "event_types", "created_by"}),
            "webhook_id": "wh_00000000000000000000000002",
            "url": "https://hooks.example.com/b",
            "secret_scheme": first.secret_scheme,
            "secret_ciphertext": first.secret_ciphertext,
        }
    )
    with pytest.raises(store.DuplicateEndpoint):
        store.update_endpoint(ws, WEBHOOK_ID, {"url": other.url}, old_url=first.url)
    moved = store.update_endpoint(ws, WEBHOOK_ID, {"url": "https://hooks.example.com/c"}, old_url=first.url)
    assert moved is not None and moved.url == "https://hooks.example.com/c"
    # The old URL is free again: another endpoint may take it.
    store.update_endpoint(ws, other.webhook_id, {"url": first.url}, old_url=other.url)
    assert {e.url for e in store.list_endpoints(ws)} == {first.url, "https://hooks.example.com/c"}


def test_the_delivery_entity_declares_every_attribute_the_repository_writes(aws):
    key = {"pk": f"WH#{WEBHOOK_ID}", "sk": "DLV#evt_1"}
    assert store.create_delivery(
        webhook_id=WEBHOOK_ID,
        workspace_id="ws_1",
        event_id="evt_1",
        delivery_id="dlv_1",
        event_type="scan.completed",
        payload='{"type":"scan.completed"}',
    )
    claimed = store.claim_attempt(WEBHOOK_ID, "evt_1", 1, now_epoch=1_000, lease_seconds=60)
    assert claimed is not None and claimed.claim_attempt == 1 and claimed.claim_until == 1_060
    attempt = store.DeliveryAttempt(
        attempt=1, at=iso(utcnow()), status_code=500, duration_ms=12, error="HTTP 500"
    )
    assert store.record_attempt(WEBHOOK_ID, "evt_1", attempt, status=store.FAILED, error="HTTP 500")
    assert store.reopen_delivery(WEBHOOK_ID, "evt_1", attempt_count=1)

    raw = _raw(key)
    assert undeclared_attributes(store.Delivery, raw) == set()
    assert all(undeclared_attributes(store.DeliveryAttempt, a) == set() for a in raw["attempts"])
    delivery = store.get_delivery(WEBHOOK_ID, "evt_1")
    assert delivery is not None and delivery.status == store.PENDING and delivery.redelivered_at
    assert delivery.attempts == [attempt]
    assert store.find_delivery(WEBHOOK_ID, "dlv_1") == delivery
    assert store.list_deliveries(WEBHOOK_ID) == ([delivery], False)


def test_the_queue_sends_in_batches_clips_delays_and_dead_letters(aws):
    delivery_queue.send_all([f"body {n}" for n in range(23)])  # three SendMessageBatch calls
    assert sorted(m["Body"] for m in queue_messages(aws.webhook_queue_url)) == sorted(
        f"body {n}" for n in range(23)
    )
    delivery_queue.send_later("later", 7200)  # SQS allows at most 15 minutes: clipped, not refused
    assert queue_counts(aws.webhook_queue_url)["delayed"] == 1

    # No BOTSCOPE_WEBHOOK_DLQ_URL: the dead-letter queue is the target of the redrive policy.
    delivery_queue.dead_letter("dead", "gave up after 8 attempts: " + "x" * 400, "scan.completed")
    (message,) = queue_messages(aws.webhook_dlq_url)
    assert message["Body"] == "dead"
    attributes = message["MessageAttributes"]
    assert len(attributes["reason"]["StringValue"]) == 256
    assert attributes["event_type"]["StringValue"] == "scan.completed"


def test_without_a_queue_configured_nothing_is_sent_silently(aws, monkeypatch):
    from botscope.config import reset_settings

    monkeypatch.setenv("BOTSCOPE_WEBHOOK_QUEUE_URL", "")
    reset_settings()
    try:
        with pytest.raises(RuntimeError, match="BOTSCOPE_WEBHOOK_QUEUE_URL"):
            delivery_queue.send_all(["body"])
        with pytest.raises(RuntimeError, match="BOTSCOPE_WEBHOOK_QUEUE_URL"):
            delivery_queue.send_later("body", 1)
    finally:
        monkeypatch.undo()
        reset_settings()
