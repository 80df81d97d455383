"""Background loops the local stack runs in place of AWS machinery moto does not provide:

- ``SqsPoller``: Lambda's SQS event source mapping (batches of up to 10, partial batch responses:
  only the messages not listed in ``batchItemFailures`` are deleted; the others reappear after
  the visibility timeout and, after maxReceiveCount receives, moto moves them to the DLQ). Like
  Lambda scaling out, up to ``concurrency`` batches are handled at once: the poller receives the
  next batch while a slow one is still being handled, so one slow endpoint never stalls the queue.
- ``ScheduleLoop``: an EventBridge schedule (moto never fires them).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3

from botscope.local.seam import FUNCTIONS_DIR, Handler, invoke_handler, load_handler

log = logging.getLogger("botscope.local")


class LazyHandler:
    """Loads ``functions/<name>/app.py`` on first use; a missing file (a feature that has not landed)
    is logged once and skipped rather than stopping the stack."""

    def __init__(self, function_dir: str) -> None:
        self.function_dir = function_dir
        self._handler: Handler | None = None
        self._warned = False

    def get(self) -> Handler | None:
        if self._handler is None:
            if not (FUNCTIONS_DIR / self.function_dir / "app.py").exists():
                if not self._warned:
                    log.warning("functions/%s/app.py does not exist yet: skipping it", self.function_dir)
                    self._warned = True
                return None
            self._handler = load_handler(self.function_dir)
        return self._handler


class _Loop(threading.Thread):
    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stopping = threading.Event()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(timeout)


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's event source mapping builds from received SQS messages."""
    records = []
    for message in messages:
        attributes = {}
        for name, value in (message.get("MessageAttributes") or {}).items():
            attributes[name] = {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes") or {},
                "messageAttributes": attributes,
                "md5OfBody": message.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


class SqsPoller(_Loop):
    def __init__(
        self,
        queue_url: str,
        handler: LazyHandler,
        *,
        region: str,
        function_name: str,
        batch_size: int = 10,
        wait_seconds: int = 1,
        concurrency: int = 4,
    ) -> None:
        super().__init__("botscope-sqs-poller")
        self.concurrency = max(1, concurrency)
        self._free_invocations = threading.BoundedSemaphore(self.concurrency)
        self._invocations = ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="botscope-sqs-invoke"
        )
        self.queue_url = queue_url
        self.handler = handler
        self.region = region
        self.function_name = function_name
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self.batches = 0
        self._sqs = boto3.client("sqs", region_name=region)
        self._queue_arn = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    if not self.poll_once(wait=False):
                        self.stopping.wait(0.2)
                except Exception:
                    log.exception("webhook poller iteration failed")
                    self.stopping.wait(1.0)
        finally:
            self._invocations.shutdown(wait=True)

    def poll_once(self, *, wait: bool = True) -> bool:
        """Receives one batch and hands it to the handler. Returns whether anything was received.
        ``wait=False`` (the loop) returns once the batch is handed over; at most ``concurrency``
        batches are being handled at a time."""
        handler = self.handler.get()
        if handler is None:
            self.stopping.wait(5.0)
            return False
        while not self._free_invocations.acquire(timeout=0.5):
            if self.stopping.is_set():
                return False
        try:
            received = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch_size,
                WaitTimeSeconds=self.wait_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        except BaseException:
            self._free_invocations.release()
            raise
        if not received:
            self._free_invocations.release()
            return False
        self.batches += 1
        if wait:
            try:
                self._handle_batch(handler, received)
            finally:
                self._free_invocations.release()
            return True
        self._invocations.submit(self._handle_batch_and_free, handler, received)
        return True

    def _handle_batch_and_free(self, handler: Handler, received: list[dict[str, Any]]) -> None:
        try:
            self._handle_batch(handler, received)
        except Exception:
            log.exception("webhook batch failed")
        finally:
            self._free_invocations.release()

    def _handle_batch(self, handler: Handler, received: list[dict[str, Any]]) -> None:
        result, function_error = invoke_handler(
            handler, self.function_name, sqs_event(received, self._queue_arn, self.region)
        )
        if function_error:
            # As on Lambda: a failed invocation returns the whole batch to the queue.
            log.warning("webhook handler failed: %s", result.get("errorMessage"))
            return
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        done = [m for m in received if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )


def scheduled_event(rule_name: str, region: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"local-{int(time.time() * 1000)}",
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:scheduler:{region}:123456789012:schedule/default/{rule_name}"],
        "detail": {},
    }


class ScheduleLoop(_Loop):
    """Invokes a handler every ``interval`` seconds (first run after ``first_delay``)."""

    def __init__(
        self,
        name: str,
        handler: LazyHandler,
        *,
        interval: float,
        first_delay: float,
        event_factory: Callable[[], dict[str, Any]],
        function_name: str,
    ) -> None:
        super().__init__(f"botscope-schedule-{name}")
        self.handler = handler
        self.interval = interval
        self.first_delay = first_delay
        self.event_factory = event_factory
        self.function_name = function_name
        self.runs = 0

    def run(self) -> None:
        delay = self.first_delay
        while not self.stopping.wait(delay):
            delay = self.interval
            handler = self.handler.get()
            if handler is None:
                continue
            result, function_error = invoke_handler(handler, self.function_name, self.event_factory())
            self.runs += 1
            if function_error:
                log.warning("%s failed: %s", self.function_name, json.dumps(result)[:500])
