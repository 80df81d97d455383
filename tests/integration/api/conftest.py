"""Fixtures for the scan API tests: a trivial state machine in moto (the workflow edge), a fake DNS
resolver so public-looking hosts resolve without network, and DynamoDB writes made atomic in moto
(real DynamoDB applies each write and transaction atomically; moto's in-process backend does not
under threads, and it restores a whole-table backup when a transaction fails)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botscope.config import reset_settings
from botscope.store.table import reset_clients

from tests.integration.api._support import fake_resolver


@pytest.fixture
def atomic_dynamodb(aws: Any) -> Iterator[None]:
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    originals = {name: getattr(DynamoDBBackend, name)
                 for name in ("put_item", "update_item", "delete_item", "get_item", "query",
                              "transact_write_items", "batch_write_item")}

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
    """A one-state Pass machine standing in for ScanWorkflow: StartExecution is the edge we test."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = sfn.create_state_machine(
        name="botscope-test-scan-workflow", roleArn="arn:aws:iam::123456789012:role/botscope-test-sfn",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    monkeypatch.setenv("BOTSCOPE_STATE_MACHINE_ARN", arn)
    monkeypatch.delenv("BOTSCOPE_ALLOW_PRIVATE_TARGETS", raising=False)
    reset_settings()
    reset_clients()
    return str(arn)


@pytest.fixture
def scan_api(api_client: Any, state_machine: str, atomic_dynamodb: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The API test client wired to the moto state machine and the fake resolver."""
    from botscope.service import scans as service

    monkeypatch.setattr(service, "target_resolver", fake_resolver)
    return api_client
