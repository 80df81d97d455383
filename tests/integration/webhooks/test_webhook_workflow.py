"""End to end from the scan workflow: a failing scan stage's Catch (MarkFailed, through its real
Lambda handler) queues ``scan.failed`` for a subscribed endpoint, which is then delivered."""

from __future__ import annotations

import json

from botscope.service import webhooks as service
from botscope.store import scans
from standardwebhooks.webhooks import Webhook

from tests.integration.webhooks.support import ROOT, LambdaContext, body_json, drain, queue_messages, receiver


def _mark_failed_handler():
    from botscope.local.seam import load_handler

    return load_handler("scan_mark_failed")


def test_a_failed_scan_stage_queues_and_delivers_scan_failed(aws, principal_factory, deliver_handler):
    principal, _ = principal_factory()
    with receiver() as rx:
        subscribed = service.create_webhook(
            principal, label="failures", url=rx.url("/failed"), event_types=["scan.failed"]
        )
        service.create_webhook(
            principal, label="completions", url=rx.url("/completed"), event_types=["scan.completed"]
        )
        scan = scans.create_scan(principal.workspace_id, "https://example.com/", "full", deadline_seconds=900)
        event = json.loads((ROOT / "events" / "scan_mark_failed.json").read_text())
        event.update(scan_job_id=scan.scan_job_id, workspace_id=principal.workspace_id)

        result = _mark_failed_handler()(event, LambdaContext(function_name="ScanMarkFailed"))
        assert result["status"] == "failed"
        (message,) = queue_messages(aws.webhook_queue_url)
        assert body_json(message)["webhook_id"] == subscribed["webhook_id"]
        # Put it back (queue_messages hid it) and deliver it like the event source mapping would.
        import boto3

        boto3.client("sqs", region_name="us-east-1").change_message_visibility(
            QueueUrl=aws.webhook_queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
        drain(aws.webhook_queue_url, deliver_handler)

    (request,) = rx.requests
    assert request.path == "/failed"
    payload = Webhook(subscribed["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "scan.failed"
    assert payload["data"]["scan_job_id"] == scan.scan_job_id and payload["data"]["status"] == "failed"
    assert payload["data"]["error"]["code"] == "stage_timeout"
    assert "report" not in payload["data"] and "findings" not in payload["data"]


def test_a_publish_interrupted_by_sqs_is_completed_by_the_stage_retry_without_duplicates(
    aws, principal_factory, deliver_handler, monkeypatch
):
    """Nothing lost, nothing doubled: MarkFailed's publish writes the delivery, then SQS fails;
    Step Functions retries the stage; the retry reuses the same event id and delivery."""
    from botscope.store import delivery_queue
    from botscope.store import webhooks as webhook_store
    from botscope.workflow import stages

    principal, _ = principal_factory()
    with receiver() as rx:
        hook = service.create_webhook(
            principal, label="failures", url=rx.url("/failed"), event_types=["scan.failed"]
        )
        scan = scans.create_scan(principal.workspace_id, "https://example.com/", "full", deadline_seconds=900)
        args = (scan.scan_job_id, principal.workspace_id, {"Error": "States.Timeout", "Cause": ""})
        real_send = delivery_queue.send_all

        def sqs_down(bodies):
            raise RuntimeError("SQS unavailable")

        monkeypatch.setattr(delivery_queue, "send_all", sqs_down)
        try:
            stages.mark_scan_failed(*args)
            raise AssertionError("the publish failure must surface so Step Functions retries the stage")
        except RuntimeError:
            pass
        assert queue_messages(aws.webhook_queue_url) == []
        monkeypatch.setattr(delivery_queue, "send_all", real_send)
        stages.mark_scan_failed(*args)  # the retry
        stages.mark_scan_failed(*args)  # and a late duplicate: already published, nothing more

        (message,) = queue_messages(aws.webhook_queue_url)
        import boto3

        boto3.client("sqs", region_name="us-east-1").change_message_visibility(
            QueueUrl=aws.webhook_queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
        drain(aws.webhook_queue_url, deliver_handler)

    (request,) = rx.requests
    assert Webhook(hook["secret"]).verify(request.body, request.headers)["type"] == "scan.failed"
    event_id = stages.scan_event_id(scan.scan_job_id)
    assert request.headers["webhook-id"] == event_id
    delivery = webhook_store.get_delivery(hook["webhook_id"], event_id)
    assert delivery is not None and delivery.status == "delivered"
    assert scans.get_scan(scan.scan_job_id).status == "failed"
