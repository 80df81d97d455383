"""Test support for webhooks: a receiver on 127.0.0.1, an SQS driver that calls the delivery
handler the way Lambda's event source mapping does, and settings overrides."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from botscope.config import reset_settings

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"


def load_deliver_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """functions/webhook_deliver/app.py, imported by path as SAM's CodeUri would ship it."""
    from botscope.local.seam import load_handler

    return load_handler("webhook_deliver")


@contextmanager
def settings_env(**values: str | None) -> Iterator[None]:
    """Sets (or with None removes) BOTSCOPE_* variables for the block, then restores them."""
    previous = {k: os.environ.get(k) for k in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_settings()
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()


# --- receiver ----------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


Behaviour = Callable[[Received, int], tuple[int, dict[str, str]]]  # (request, index) -> (status, headers)


@dataclass
class Receiver:
    behaviour: Behaviour
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def receiver(behaviour: Behaviour | None = None) -> Iterator[Receiver]:
    state = Receiver(behaviour or (lambda request, index: (200, {})))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("content-length") or 0)
            request = Received(
                self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
            )
            with state.lock:
                index = len(state.requests)
                state.requests.append(request)
            status, headers = state.behaviour(request, index)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the sender gave up (timeout): nothing to answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# --- SQS driver --------------------------------------------------------------------------------


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """An SQS event as Lambda's event source mapping builds it."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes") or {},
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


@dataclass
class DriveResult:
    batches: int = 0
    records: int = 0
    failures: int = 0


def drain(
    queue_url: str,
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    *,
    max_batches: int = 100,
    release_failed: bool = True,
) -> DriveResult:
    """Receives batches until the queue has nothing visible, calling the handler like the event
    source mapping does: successes are deleted; failures are left to SQS (made visible again at
    once when ``release_failed``, standing in for the visibility timeout running out)."""
    sqs = boto3.client("sqs", region_name=REGION)
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    result = DriveResult()
    for _ in range(max_batches):
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        result.batches += 1
        result.records += len(messages)
        response = handler(sqs_event(messages, arn), LambdaContext(function_name="WebhookDeliverFunction"))
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        result.failures += len(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        if release_failed:
            for m in messages:
                if m["MessageId"] in failed:
                    sqs.change_message_visibility(
                        QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                    )
    return result


def queue_messages(queue_url: str) -> list[dict[str, Any]]:
    """Every visible message of a queue (received with a long visibility so each comes once)."""
    sqs = boto3.client("sqs", region_name=REGION)
    out: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=300,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return out
        out.extend(batch)


def queue_counts(queue_url: str) -> dict[str, int]:
    attrs = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]
    return {
        "visible": int(attrs["ApproximateNumberOfMessages"]),
        "delayed": int(attrs["ApproximateNumberOfMessagesDelayed"]),
        "in_flight": int(attrs["ApproximateNumberOfMessagesNotVisible"]),
    }


def body_json(message: dict[str, Any]) -> dict[str, Any]:
    return json.loads(message["Body"])


@dataclass
class LambdaContext:
    """What Powertools reads from a Lambda context object."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "req-test"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 300_000
