"""Fan-out of events to subscribed webhook endpoints (one SQS message per (event, endpoint)).

Called by the scan workflow's Finalize / MarkFailed stages and the cancel (``scan.completed`` /
``scan.failed`` / ``scan.cancelled``),
the monitoring stage (``monitoring.findings_changed``) and the API's test button (``webhook.test``,
to one endpoint). The event id is created here, once; it is the ``webhook-id`` header of every
attempt of every endpoint's delivery, so receivers can deduplicate on it.

The payload is thin (Standard Webhooks "thin payload"): ``{"type", "timestamp", "data"}`` where
``data`` holds ids and summary fields. It is serialized once and stored on each delivery item, so
every attempt signs and sends the same bytes. Messages carry ids only.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from botscope import ids
from botscope.isotime import now_iso
from botscope.redaction import redact_urls_in
from botscope.store import delivery_queue
from botscope.store import webhooks as store

EVENT_TYPES = ("scan.completed", "scan.failed", "scan.cancelled", "monitoring.findings_changed")
TEST_EVENT_TYPE = "webhook.test"
# A thin payload stays far below this; anything larger is a caller passing the report by mistake.
MAX_PAYLOAD_BYTES = 16 * 1024
MESSAGE_VERSION = 1


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):  # numbers read from DynamoDB
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def build_payload(event_type: str, data: dict[str, Any], timestamp: str) -> str:
    """The event body; URLs in ``data`` carry no query values (``botscope.redaction``): a receiver
    is not the customer's scan record."""
    body = json.dumps(
        {"type": event_type, "timestamp": timestamp, "data": redact_urls_in(data)},
        separators=(",", ":"),
        ensure_ascii=False,
        default=_json_default,
    )
    if len(body.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"webhook payload of {event_type} exceeds {MAX_PAYLOAD_BYTES} bytes: send ids "
            "and summary fields, never the report"
        )
    return body


def delivery_message(
    *, event_id: str, webhook_id: str, workspace_id: str, attempt: int, not_before: str | None = None
) -> str:
    return json.dumps(
        {
            "v": MESSAGE_VERSION,
            "event_id": event_id,
            "webhook_id": webhook_id,
            "workspace_id": workspace_id,
            "attempt": attempt,
            "not_before": not_before,
        },
        separators=(",", ":"),
    )


def send_messages(bodies: list[str]) -> None:
    """Enqueues delivery messages (``delivery_message`` bodies), e.g. a manual redelivery."""
    delivery_queue.send_all(bodies)


def _enqueue(
    workspace_id: str, event_id: str, event_type: str, payload: str, endpoints: list[store.Webhook]
) -> list[str]:
    """One pending delivery per endpoint (written before its message, so a retried caller finds
    it), then one message per delivery. Returns the delivery ids."""
    bodies: list[str] = []
    delivery_ids: list[str] = []
    for endpoint in endpoints:
        delivery_id = ids.new_id("dlv")
        store.create_delivery(
            webhook_id=endpoint.webhook_id,
            workspace_id=workspace_id,
            event_id=event_id,
            delivery_id=delivery_id,
            event_type=event_type,
            payload=payload,
        )
        bodies.append(
            delivery_message(
                event_id=event_id, webhook_id=endpoint.webhook_id, workspace_id=workspace_id, attempt=1
            )
        )
        delivery_ids.append(delivery_id)
    delivery_queue.send_all(bodies)
    return delivery_ids


def publish_event(
    workspace_id: str, event_type: str, data: dict[str, Any], *, event_id: str | None = None
) -> str:
    """Creates the event (its id is the ``webhook-id`` of every attempt) and enqueues one message per
    subscribed, enabled endpoint. Returns the event id (also when no endpoint is subscribed).

    A caller that may retry (a workflow stage) passes a stable ``event_id``: a second call then
    finds the delivery records of the first (written before the messages) and only re-sends the
    messages, so an SQS failure half way loses nothing and a retry doubles nothing (deliveries are
    idempotent per (event, endpoint))."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    event_id = event_id or ids.new_id("evt")
    payload = build_payload(event_type, data, now_iso())
    endpoints = [
        e
        for e in store.list_endpoints(workspace_id)
        if e.status == store.ENABLED and event_type in e.event_types
    ]
    _enqueue(workspace_id, event_id, event_type, payload, endpoints)
    return event_id


def send_test_event(workspace_id: str, endpoint: store.Webhook) -> tuple[str, str]:
    """A ``webhook.test`` event to one endpoint, whatever it subscribes to. Returns (event id,
    delivery id)."""
    event_id = ids.new_id("evt")
    payload = build_payload(
        TEST_EVENT_TYPE,
        {"webhook_id": endpoint.webhook_id, "message": "Test event from BotScope"},
        now_iso(),
    )
    (delivery_id,) = _enqueue(workspace_id, event_id, TEST_EVENT_TYPE, payload, [endpoint])
    return event_id, delivery_id
