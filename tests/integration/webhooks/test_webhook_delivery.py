"""Delivery through the real handler (functions/webhook_deliver/app.py) and moto SQS, to receivers
on 127.0.0.1: signatures verified with the official ``standardwebhooks`` package, retries,
DLQ, timeouts, 410, Retry-After, idempotency, and the SSRF guard at delivery time."""

from __future__ import annotations

import json
import select
import threading
from datetime import timedelta

import pytest
from botscope.isotime import parse_iso
from botscope.service import webhooks as service
from botscope.store import webhooks as store
from botscope.store.table import iso, table, utcnow
from botscope.webhooks import delivery, fanout, urls
from standardwebhooks.webhooks import Webhook

from tests.integration.webhooks.support import (
    body_json,
    drain,
    queue_counts,
    queue_messages,
    receiver,
    settings_env,
)

ALL_TYPES = ["scan.completed", "scan.failed", "monitoring.findings_changed"]


def make_endpoint(principal, url, event_types=ALL_TYPES, label="receiver"):
    return service.create_webhook(principal, label=label, url=url, event_types=event_types)


def deliveries_of(principal, webhook_id):
    return service.list_deliveries(principal, webhook_id)["data"]


def test_every_event_type_and_the_test_event_verify_with_standardwebhooks(
    aws, principal_factory, deliver_handler
):
    principal, _ = principal_factory()
    with receiver() as rx:
        endpoint = make_endpoint(principal, rx.url())
        data = {
            "scan.completed": {
                "scan_job_id": "scan_1",
                "target_url": "https://example.com/",
                "summary": {"present": 3},
            },
            "scan.failed": {
                "scan_job_id": "scan_2",
                "error": {"code": "timeout", "message": "took too long"},
            },
            "monitoring.findings_changed": {
                "monitored_url_id": "mon_1",
                "changes": {"added": 1, "removed": 0},
            },
        }
        event_ids = {t: fanout.publish_event(principal.workspace_id, t, d) for t, d in data.items()}
        test = service.send_test(principal, endpoint["webhook_id"])
        result = drain(aws.webhook_queue_url, deliver_handler)

    assert result.failures == 0 and len(rx.requests) == 4
    verifier = Webhook(endpoint["secret"])
    seen = {}
    for request in rx.requests:
        payload = verifier.verify(request.body, request.headers)  # raises on any bad signature/header
        assert set(payload) == {"type", "timestamp", "data"}
        assert request.headers["content-type"] == "application/json"
        seen[payload["type"]] = (request.headers["webhook-id"], payload["data"])
    for event_type, event_id in event_ids.items():
        assert seen[event_type] == (event_id, data[event_type])
    assert seen["webhook.test"][0] == test["event_id"]
    # A forged body fails verification with the same package.
    with pytest.raises(Exception):  # noqa: B017
        verifier.verify(rx.requests[0].body + b" ", rx.requests[0].headers)
    statuses = {
        d["event_id"]: (d["status"], len(d["attempts"]))
        for d in deliveries_of(principal, endpoint["webhook_id"])
    }
    assert statuses == {e: ("delivered", 1) for e in [*event_ids.values(), test["event_id"]]}


def test_only_subscribed_enabled_endpoints_get_a_message(aws, principal_factory):
    principal, _ = principal_factory()
    other, _ = principal_factory()
    completed_only = make_endpoint(principal, "http://127.0.0.1:9/a", ["scan.completed"])
    both = make_endpoint(principal, "http://127.0.0.1:9/b", ["scan.completed", "scan.failed"])
    make_endpoint(other, "http://127.0.0.1:9/a", ["scan.failed"])  # another workspace
    store.disable_endpoint(principal.workspace_id, completed_only["webhook_id"], "test")

    event_id = fanout.publish_event(principal.workspace_id, "scan.failed", {"scan_job_id": "scan_x"})
    messages = [body_json(m) for m in queue_messages(aws.webhook_queue_url)]
    assert [(m["webhook_id"], m["event_id"], m["attempt"]) for m in messages] == [
        (both["webhook_id"], event_id, 1)
    ]
    with pytest.raises(ValueError):
        fanout.publish_event(principal.workspace_id, "scan.exploded", {})
    with pytest.raises(ValueError):  # the report never goes into a payload
        fanout.publish_event(principal.workspace_id, "scan.completed", {"report": "x" * 20000})


def test_three_failures_then_success_is_one_delivery_with_four_attempts(
    aws, principal_factory, deliver_handler
):
    principal, _ = principal_factory()
    with receiver(lambda request, index: (500, {}) if index < 3 else (204, {})) as rx:
        endpoint = make_endpoint(principal, rx.url())
        event_id = fanout.publish_event(principal.workspace_id, "scan.completed", {"scan_job_id": "scan_1"})
        drain(aws.webhook_queue_url, deliver_handler)

    assert [r.headers["webhook-id"] for r in rx.requests] == [event_id] * 4
    verifier = Webhook(endpoint["secret"])
    for request in rx.requests:
        verifier.verify(request.body, request.headers)
    assert len({r.body for r in rx.requests}) == 1  # the same bytes on every attempt
    (dlv,) = deliveries_of(principal, endpoint["webhook_id"])
    assert dlv["status"] == "delivered" and dlv["attempt_count"] == 4
    assert [a["status_code"] for a in dlv["attempts"]] == [500, 500, 500, 204]
    assert [a["attempt"] for a in dlv["attempts"]] == [1, 2, 3, 4]
    assert [a["error"] for a in dlv["attempts"]] == ["HTTP 500"] * 3 + [None]
    assert (
        all(a["next_retry_at"] for a in dlv["attempts"][:3]) and dlv["attempts"][3]["next_retry_at"] is None
    )
    assert all(a["duration_ms"] is not None and a["at"] for a in dlv["attempts"])
    assert queue_counts(aws.webhook_dlq_url)["visible"] == 0
    fresh = service.get_webhook(principal, endpoint["webhook_id"])
    assert fresh["last_success_at"] and fresh["failing_since"] is None


def test_a_receiver_that_never_succeeds_ends_in_the_dlq(aws, principal_factory, deliver_handler):
    principal, _ = principal_factory()
    with receiver(lambda request, index: (503, {})) as rx:
        endpoint = make_endpoint(principal, rx.url())
        event_id = fanout.publish_event(principal.workspace_id, "scan.failed", {"scan_job_id": "scan_1"})
        drain(aws.webhook_queue_url, deliver_handler)

    assert len(rx.requests) == 4  # schedule "0,0,0" = 4 attempts
    (dlv,) = deliveries_of(principal, endpoint["webhook_id"])
    assert dlv["status"] == "failed" and dlv["attempt_count"] == 4 and dlv["next_retry_at"] is None
    assert "gave up after 4 attempts" in dlv["error"]
    (dead,) = queue_messages(aws.webhook_dlq_url)
    body = json.loads(dead["Body"])
    assert (body["event_id"], body["webhook_id"], body["attempt"]) == (event_id, endpoint["webhook_id"], 4)
    assert dead["MessageAttributes"]["event_type"]["StringValue"] == "scan.failed"
    assert queue_counts(aws.webhook_queue_url) == {"visible": 0, "delayed": 0, "in_flight": 0}
    # The endpoint is not disabled by one failed delivery, but the API shows it is failing.
    view = service.get_webhook(principal, endpoint["webhook_id"])
    assert view["status"] == "enabled" and view["failing_since"]


def test_a_slow_receiver_is_cut_off_without_holding_up_the_batch(aws, principal_factory, deliver_handler):
    principal, _ = principal_factory()
    fast_arrived = threading.Event()
    release = threading.Event()
    observed = {}

    def slow(request, index):
        # Hold the request until the fast delivery has arrived, then check our client is still
        # connected: true only if both deliveries were in flight at the same time.
        observed["saw_fast"] = fast_arrived.wait(30)
        connection = threading.current_thread().connection  # set below
        readable, _, _ = select.select([connection], [], [], 0)
        observed["still_connected"] = not readable
        release.wait(30)
        return 200, {}

    def fast(request, index):
        fast_arrived.set()
        return 200, {}

    with (
        settings_env(BOTSCOPE_WEBHOOK_TIMEOUT_SECONDS="3"),
        receiver(slow) as slow_rx,
        receiver(fast) as fast_rx,
    ):
        _patch_connection_capture(slow_rx)
        slow_ep = make_endpoint(principal, slow_rx.url(), ["scan.completed"], "slow")
        fast_eps = [
            make_endpoint(principal, fast_rx.url(f"/f{i}"), ["scan.completed"], f"fast{i}") for i in range(3)
        ]
        fanout.publish_event(principal.workspace_id, "scan.completed", {"scan_job_id": "scan_1"})
        # One batch with all four messages, the slow endpoint's first.
        messages = sorted(
            queue_messages(aws.webhook_queue_url),
            key=lambda m: body_json(m)["webhook_id"] != slow_ep["webhook_id"],
        )
        from tests.integration.webhooks.support import sqs_event

        response = deliver_handler(sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:q"), None)
        release.set()

    assert response == {"batchItemFailures": []}
    assert observed == {"saw_fast": True, "still_connected": True}
    (slow_dlv,) = deliveries_of(principal, slow_ep["webhook_id"])
    assert slow_dlv["status"] == "pending" and slow_dlv["attempts"][0]["error"].startswith("timeout")
    assert slow_dlv["attempts"][0]["status_code"] is None and slow_dlv["next_retry_at"]
    for ep in fast_eps:
        (dlv,) = deliveries_of(principal, ep["webhook_id"])
        assert dlv["status"] == "delivered"


def _patch_connection_capture(rx):
    """Lets the receiver's behaviour see its socket (to check whether the sender disconnected)."""
    handler_class = rx.server.RequestHandlerClass
    original = handler_class.do_POST

    def do_post(self):
        threading.current_thread().connection = self.connection
        original(self)

    handler_class.do_POST = do_post


def test_410_disables_the_endpoint_with_a_reason(aws, principal_factory, deliver_handler):
    principal, _ = principal_factory()
    with receiver(lambda request, index: (410, {})) as rx:
        endpoint = make_endpoint(principal, rx.url())
        fanout.publish_event(principal.workspace_id, "scan.completed", {"scan_job_id": "scan_1"})
        drain(aws.webhook_queue_url, deliver_handler)
        later = fanout.publish_event(principal.workspace_id, "scan.completed", {"scan_job_id": "scan_2"})
        drain(aws.webhook_queue_url, deliver_handler)

    assert len(rx.requests) == 1
    view = service.get_webhook(principal, endpoint["webhook_id"])
    assert view["status"] == "disabled" and "410" in view["disabled_reason"]
    (dlv,) = deliveries_of(principal, endpoint["webhook_id"])
    assert dlv["status"] == "failed" and dlv["event_id"] != later
    with pytest.raises(Exception) as refused:
        service.send_test(principal, endpoint["webhook_id"])
    assert getattr(refused.value, "code", "") == "webhook_disabled"


def test_retry_after_is_honoured_and_long_waits_hop_through_the_queue(
    aws, principal_factory, deliver_handler
):
    principal, _ = principal_factory()
    with receiver(lambda request, index: (429, {"Retry-After": "120"})) as rx:
        endpoint = make_endpoint(principal, rx.url())
        fanout.publish_event(principal.workspace_id, "scan.completed", {"scan_job_id": "scan_1"})
        before = utcnow()
        drain(aws.webhook_queue_url, deliver_handler)

    assert len(rx.requests) == 1
    (dlv,) = deliveries_of(principal, endpoint["webhook_id"])
    wait = (parse_iso(dlv["next_retry_at"]) - before).total_seconds()
    assert 119 <= wait <= 125 and dlv["attempts"][0]["status_code"] == 429
    assert queue_counts(aws.webhook_queue_url)["delayed"] == 1  # the retry waits in SQS

    # A message due in two hours is re-sent with SQS's maximum delay, not delivered early.
    hop = delivery.DeliveryMessage(
        event_id=dlv["event_id"],
        webhook_id=endpoint["webhook_id"],
        workspace_id=principal.workspace_id,
        attempt=2,
        not_before=iso(utcnow() + timedelta(hours=2)),
    )
    assert delivery.process_message(hop.body()) == delivery.DEFERRED
    assert queue_counts(aws.webhook_queue_url)["delayed"] == 2
    assert len(rx.requests) == 1


def test_a_redelivered_message_never_delivers_twice(aws, principal_factory, deliver_handler):
    principal, _ = principal_factory()
    with receiver() as rx:
        endpoint = make_endpoint(principal, rx.url())
        fanout.publish_event(principal.workspace_id, "scan.completed", {"scan_job_id": "scan_1"})
        (message,) = queue_messages(aws.webhook_queue_url)
        from tests.integration.webhooks.support import sqs_event

        arn = "arn:aws:sqs:us-east-1:123456789012:q"
        twin = dict(message, MessageId=message["MessageId"] + "-copy")
        # The same message twice in one batch (at-least-once delivery), then once more later.
        first = deliver_handler(sqs_event([message, twin], arn), None)
        again = deliver_handler(sqs_event([message], arn), None)

    assert len(rx.requests) == 1
    assert len(first["batchItemFailures"]) <= 1 and again == {"batchItemFailures": []}
    (dlv,) = deliveries_of(principal, endpoint["webhook_id"])
    assert dlv["status"] == "delivered" and [a["status_code"] for a in dlv["attempts"]] == [200]
    # A stale recording cannot add a second successful attempt either (the conditional write).
    assert not store.record_attempt(
        endpoint["webhook_id"],
        dlv["event_id"],
        store.DeliveryAttempt(attempt=1, at=iso(utcnow()), status_code=200, duration_ms=1),
        status=store.DELIVERED,
        error=None,
    )


def test_dns_is_checked_again_at_delivery_time(aws, principal_factory, deliver_handler):
    principal, _ = principal_factory()
    answers = {"hooks.customer.test": ["127.0.0.1"]}
    urls.DEFAULT_RESOLVER = lambda host: answers[host]
    with receiver() as rx:
        endpoint = make_endpoint(principal, f"http://hooks.customer.test:{rx.port}/in")
        fanout.publish_event(principal.workspace_id, "scan.completed", {"scan_job_id": "scan_1"})
        drain(aws.webhook_queue_url, deliver_handler)
        # The request went to the checked address with the endpoint's name as Host.
        assert rx.requests[0].headers["host"] == f"hooks.customer.test:{rx.port}"

        answers["hooks.customer.test"] = ["169.254.169.254"]  # the name now points at metadata
        fanout.publish_event(principal.workspace_id, "scan.failed", {"scan_job_id": "scan_2"})
        drain(aws.webhook_queue_url, deliver_handler)

    assert len(rx.requests) == 1
    deliveries = {d["event_type"]: d for d in deliveries_of(principal, endpoint["webhook_id"])}
    failed = deliveries["scan.failed"]
    assert failed["status"] == "failed" and len(failed["attempts"]) == 4
    assert all(a["error"].startswith("target_not_public") for a in failed["attempts"])
    assert "169.254" not in json.dumps(failed)


def test_an_endpoint_failing_for_days_is_disabled(aws, principal_factory, deliver_handler):
    principal, _ = principal_factory()
    with receiver(lambda request, index: (500, {})) as rx:
        endpoint = make_endpoint(principal, rx.url())
        six_days_ago = iso(utcnow() - timedelta(days=6))
        table().update_item(
            Key={"pk": f"WS#{principal.workspace_id}", "sk": f"WH#{endpoint['webhook_id']}"},
            UpdateExpression="SET failing_since = :t",
            ExpressionAttributeValues={":t": six_days_ago},
        )
        fanout.publish_event(principal.workspace_id, "scan.completed", {"scan_job_id": "scan_1"})
        drain(aws.webhook_queue_url, deliver_handler)

    assert len(rx.requests) == 1  # disabled after the first failure; the retry found it disabled
    view = service.get_webhook(principal, endpoint["webhook_id"])
    assert view["status"] == "disabled" and six_days_ago in view["disabled_reason"]
    (dlv,) = deliveries_of(principal, endpoint["webhook_id"])
    assert dlv["status"] == "failed" and dlv["error"].startswith("endpoint disabled")


def test_a_malformed_message_goes_straight_to_the_dlq(aws, deliver_handler):
    import boto3

    boto3.client("sqs", region_name="us-east-1").send_message(
        QueueUrl=aws.webhook_queue_url, MessageBody="{oops"
    )
    result = drain(aws.webhook_queue_url, deliver_handler)
    assert result.failures == 0
    (dead,) = queue_messages(aws.webhook_dlq_url)
    assert (
        dead["Body"] == "{oops" and dead["MessageAttributes"]["reason"]["StringValue"] == "malformed message"
    )


def test_redirects_are_failures_and_never_followed(aws, principal_factory, deliver_handler):
    principal, _ = principal_factory()
    with receiver(lambda request, index: (307, {"Location": "/elsewhere"})) as rx:
        endpoint = make_endpoint(principal, rx.url("/in"))
        fanout.publish_event(principal.workspace_id, "scan.completed", {"scan_job_id": "scan_1"})
        drain(aws.webhook_queue_url, deliver_handler)

    assert [r.path for r in rx.requests] == ["/in"] * 4  # one request per attempt, never /elsewhere
    (dlv,) = deliveries_of(principal, endpoint["webhook_id"])
    assert dlv["status"] == "failed" and [a["status_code"] for a in dlv["attempts"]] == [307] * 4


def test_a_deleted_endpoint_gets_nothing_more(aws, principal_factory, deliver_handler):
    principal, _ = principal_factory()
    with receiver() as rx:
        endpoint = make_endpoint(principal, rx.url())
        fanout.publish_event(principal.workspace_id, "scan.completed", {"scan_job_id": "scan_1"})
        service.delete_webhook(principal, endpoint["webhook_id"])
        result = drain(aws.webhook_queue_url, deliver_handler)

    assert rx.requests == [] and result.records == 1 and result.failures == 0
    assert queue_counts(aws.webhook_dlq_url)["visible"] == 0
