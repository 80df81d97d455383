"""The webhook delivery queue and its dead-letter queue (SQS): every SQS call of the application.

Messages are opaque bodies here; their format (``botscope.webhooks.fanout.delivery_message``) and
when to send them belong to the webhook layer. The dead-letter queue is
``BOTSCOPE_WEBHOOK_DLQ_URL``, or else the target of the delivery queue's redrive policy (looked up
once per process).
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

from botscope.config import get_settings
from botscope.store.table import sqs_client

# SQS limits: DelaySeconds at most 15 minutes (the delivery covers longer waits by re-sending the
# message, "hops", until its not_before time has come), SendMessageBatch at most 10 entries.
MAX_DELAY_SECONDS = 900
MAX_BATCH_ENTRIES = 10
# Sends per batch chunk: the first, and once more for the entries SQS reports as failed.
BATCH_SEND_TRIES = 2


def _queue_url() -> str:
    queue_url = get_settings().webhook_queue_url
    if not queue_url:
        raise RuntimeError("BOTSCOPE_WEBHOOK_QUEUE_URL is not configured")
    return queue_url


def send_all(bodies: list[str]) -> None:
    """Enqueues ``bodies`` (without delay) in batches, retrying once the entries SQS reports as
    failed; ``RuntimeError`` when some still fail."""
    if not bodies:
        return
    queue_url = _queue_url()
    entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
    for start in range(0, len(entries), MAX_BATCH_ENTRIES):
        chunk = entries[start : start + MAX_BATCH_ENTRIES]
        for _ in range(BATCH_SEND_TRIES):
            failed = sqs_client().send_message_batch(QueueUrl=queue_url, Entries=chunk).get("Failed", [])
            if not failed:
                break
            failed_ids = {f["Id"] for f in failed}
            chunk = [e for e in chunk if e["Id"] in failed_ids]
        else:
            raise RuntimeError(f"could not enqueue {len(chunk)} webhook deliveries")


def send_later(body: str, delay_seconds: float) -> None:
    """Enqueues ``body`` visible after ``delay_seconds``, rounded up and clipped to SQS's 0-15 minutes."""
    delay = min(MAX_DELAY_SECONDS, max(0, math.ceil(delay_seconds)))
    sqs_client().send_message(QueueUrl=_queue_url(), MessageBody=body, DelaySeconds=delay)


def dead_letter(body: str, reason: str, event_type: str | None = None) -> None:
    """Puts ``body`` on the dead-letter queue with why (at most 256 characters) and its event type."""
    attributes: dict[str, Any] = {"reason": {"DataType": "String", "StringValue": reason[:256]}}
    if event_type:
        attributes["event_type"] = {"DataType": "String", "StringValue": event_type}
    sqs_client().send_message(QueueUrl=dlq_url(), MessageBody=body, MessageAttributes=attributes)


@lru_cache(maxsize=4)
def _redrive_target_url(queue_url: str) -> str:
    attrs = sqs_client().get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])[
        "Attributes"
    ]
    arn = json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"]
    _, _, _, _, account, name = arn.split(":")
    return str(sqs_client().get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def dlq_url() -> str:
    settings = get_settings()
    return settings.webhook_dlq_url or _redrive_target_url(settings.webhook_queue_url)


def reset() -> None:
    """Forget the looked-up dead-letter queue (tests switch queues between cases)."""
    _redrive_target_url.cache_clear()
