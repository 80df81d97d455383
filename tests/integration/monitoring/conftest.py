"""Monitoring against moto: the table from template.yaml, a trivial state machine standing in for
ScanWorkflow (StartExecution is the edge), DynamoDB writes made atomic as they are in DynamoDB
(moto's in-process backend is not atomic under threads), and a recorder of published events (the
webhook fan-out is another feature's edge)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest


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

    def record(workspace_id: str, event_type: str, data: dict[str, Any], **kwargs: Any) -> str:
        events.append((workspace_id, event_type, data))
        return f"evt_{len(events)}"

    monkeypatch.setattr(fanout, "publish_event", record)
    return events


def make_due(workspace_id: str, monitored_url_id: str, when: Any) -> None:
    """Moves a monitored URL's next scan (and its due index entry) to ``when``."""
    from botscope.store.monitoring import due_index_keys
    from botscope.store.table import iso, table, ws_pk

    at = iso(when)
    table().update_item(
        Key={"pk": ws_pk(workspace_id), "sk": f"MON#{monitored_url_id}"},
        UpdateExpression="SET next_scan_at = :at, gsi2sk = :sk",
        ExpressionAttributeValues={":at": at, ":sk": due_index_keys(monitored_url_id, at)["gsi2sk"]},
    )


def past(seconds: int = 60) -> Any:
    from botscope.store.table import utcnow

    return utcnow() - timedelta(seconds=seconds)
