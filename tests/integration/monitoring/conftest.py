"""Monitoring against moto: the table from template.yaml, a trivial state machine standing in for
ScanWorkflow (StartExecution is the edge), DynamoDB writes made atomic as they are in DynamoDB
(moto's in-process backend is not atomic under threads), and a recorder of published events (the
webhook fan-out is another feature's edge)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botscope.config import reset_settings
from botscope.store.table import reset_clients


@pytest.fixture
def atomic_dynamodb(aws: Any) -> Iterator[None]:
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    names = ("put_item", "update_item", "delete_item", "get_item", "query", "transact_write_items",
             "batch_write_item")
    originals = {name: getattr(DynamoDBBackend, name) for name in names}

    def locked(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return fn(*args, **kwargs)
        return wrapper

    for name, fn in originals.items():
        setattr(DynamoDBBackend, name, locked(fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(DynamoDBBackend, name, fn)


@pytest.fixture
def state_machine(aws: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = sfn.create_state_machine(
        name="botscope-test-scan-workflow", roleArn="arn:aws:iam::123456789012:role/botscope-test-sfn",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    monkeypatch.setenv("BOTSCOPE_STATE_MACHINE_ARN", arn)
    reset_settings()
    reset_clients()
    return str(arn)


@pytest.fixture
def executions(state_machine: str) -> Callable[[], list[str]]:
    """Names (= scan ids) of the executions started so far."""
    def names() -> list[str]:
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        return [e["name"] for e in sfn.list_executions(stateMachineArn=state_machine)["executions"]]
    return names


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    from botscope.webhooks import fanout

    events: list[tuple[str, str, dict[str, Any]]] = []

    def record(workspace_id: str, event_type: str, data: dict[str, Any]) -> str:
        events.append((workspace_id, event_type, data))
        return f"evt_{len(events)}"

    monkeypatch.setattr(fanout, "publish_event", record)
    return events


def make_due(workspace_id: str, monitored_url_id: str, when: Any) -> None:
    """Moves a monitored URL's next scan (and its due index entry) to ``when``."""
    from botscope.monitoring.repository import mon_key
    from botscope.store.monitoring import due_index_keys
    from botscope.store.table import iso, table

    at = iso(when)
    table().update_item(Key=mon_key(workspace_id, monitored_url_id),
                        UpdateExpression="SET next_scan_at = :at, gsi2sk = :sk",
                        ExpressionAttributeValues={":at": at, ":sk": due_index_keys(monitored_url_id, at)["gsi2sk"]})


def past(seconds: int = 60) -> Any:
    from botscope.store.table import utcnow

    return utcnow() - timedelta(seconds=seconds)
