"""The SQS poller behaves like Lambda's event source mapping with ReportBatchItemFailures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botscope.local.workers import LazyHandler, SqsPoller, sqs_event


class _StaticHandler(LazyHandler):
    def __init__(self, handler: Any) -> None:
        super().__init__("unused")
        self._handler = handler


@pytest.fixture
def queues(monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3
    from moto import mock_aws

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        # Visibility 0: a failed message is visible again at once (the test needs no sleeping).
        queue = sqs.create_queue(
            QueueName="main",
            Attributes={
                "VisibilityTimeout": "0",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
            },
        )["QueueUrl"]
        yield sqs, queue, dlq


def _count(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    return sum(int(v) for v in attrs["Attributes"].values())


def test_partial_batch_failures_stay_and_end_in_the_dlq(queues: Any) -> None:
    sqs, queue, dlq = queues
    for body in ("ok-1", "fail", "ok-2"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    batches: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batches.append([r["body"] for r in event["Records"]])
        assert all(r["eventSource"] == "aws:sqs" for r in event["Records"])
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "fail"
            ]
        }

    poller = SqsPoller(
        queue, _StaticHandler(handler), region="us-east-1", function_name="deliver", wait_seconds=0
    )
    # First batch: all three delivered to the handler; only the failed one stays
    assert poller.poll_once()
    assert sorted(batches[0]) == ["fail", "ok-1", "ok-2"]
    assert _count(sqs, queue) == 1
    # Received again, failed again: after maxReceiveCount moto moves it to the DLQ
    for _ in range(3):
        poller.poll_once()
    assert [b for b in batches[1:] if b] and all(b == ["fail"] for b in batches[1:])
    assert _count(sqs, queue) == 0
    assert _count(sqs, dlq) == 1


def test_a_crashing_handler_returns_the_whole_batch(queues: Any) -> None:
    sqs, queue, _ = queues
    sqs.send_message(QueueUrl=queue, MessageBody="a")
    sqs.send_message(QueueUrl=queue, MessageBody="b")

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("down")

    poller = SqsPoller(
        queue, _StaticHandler(handler), region="us-east-1", function_name="deliver", wait_seconds=0
    )
    assert poller.poll_once()
    assert _count(sqs, queue) == 2


def test_sqs_event_has_the_lambda_shape() -> None:
    event = sqs_event(
        [
            {
                "MessageId": "m1",
                "ReceiptHandle": "r1",
                "Body": "{}",
                "MD5OfBody": "x",
                "Attributes": {"ApproximateReceiveCount": "1"},
                "MessageAttributes": {"t": {"DataType": "String", "StringValue": "v"}},
            }
        ],
        "arn:aws:sqs:us-east-1:123456789012:q",
        "us-east-1",
    )
    record = event["Records"][0]
    assert record["messageId"] == "m1" and record["receiptHandle"] == "r1"
    assert record["messageAttributes"]["t"]["stringValue"] == "v"
    assert record["eventSourceARN"].endswith(":q")


def test_missing_handler_is_skipped_without_consuming(queues: Any) -> None:
    sqs, queue, _ = queues
    sqs.send_message(QueueUrl=queue, MessageBody="kept")
    missing = LazyHandler("no_such_function_dir")
    assert missing.get() is None
    poller = SqsPoller(queue, missing, region="us-east-1", function_name="deliver", wait_seconds=0)
    poller.stopping.set()  # poll_once waits on it when the handler is missing
    assert poller.poll_once() is False
    assert _count(sqs, queue) == 1
