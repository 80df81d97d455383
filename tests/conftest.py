"""Shared fixtures. AWS plumbing is tested against moto; the scanner against real HTTP servers on
127.0.0.1. Feature-specific fixtures live in the conftest.py of their own test folder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.aws import AwsResources, mocked_aws
from tests.helpers.local_stack import running_local_stack


@pytest.fixture
def aws() -> Iterator[AwsResources]:
    """Moto with the table (from template.yaml), reports bucket and webhook queues. Its DynamoDB
    applies each request atomically, as the real service does (botscope.local.atomic_dynamodb)."""
    from botscope.local.atomic_dynamodb import atomic_dynamodb

    with atomic_dynamodb(), mocked_aws() as resources:
        yield resources


@pytest.fixture
def atomic_dynamodb(aws: AwsResources) -> None:
    """Named by concurrency tests for clarity: the ``aws`` fixture already serialises moto's DynamoDB."""


@pytest.fixture
def state_machine(aws: AwsResources, monkeypatch: pytest.MonkeyPatch) -> str:
    """A one-state Pass machine standing in for ScanWorkflow: StartExecution is the edge tested."""
    import json

    import boto3
    from botscope.config import reset_settings
    from botscope.store.table import reset_clients

    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = sfn.create_state_machine(
        name="botscope-test-scan-workflow",
        roleArn="arn:aws:iam::123456789012:role/botscope-test-sfn",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    monkeypatch.setenv("BOTSCOPE_STATE_MACHINE_ARN", arn)
    reset_settings()
    reset_clients()
    return str(arn)


@pytest.fixture
def workspace_factory(aws: AwsResources) -> Any:
    """Creates a workspace with an API key: ``ws, key = workspace_factory("growth")``."""
    from botscope.store import credentials, workspaces

    def make(plan: str = "growth", **kwargs: Any) -> tuple[dict[str, Any], str]:
        ws = workspaces.create_workspace(f"{plan} workspace", plan, **kwargs)
        key = credentials.create_api_key(ws.workspace_id, "test key")
        return ws.to_dict(), key.secret

    return make


@pytest.fixture
def api_client(aws: AwsResources) -> Any:
    from botscope.api.app import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app(), base_url="http://127.0.0.1:8000") as client:
        yield client


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The whole local stack (tests.helpers.local_stack), shared by the tests of one module."""
    with running_local_stack(tmp_path_factory.mktemp("botscope")) as running:
        yield running


@pytest.fixture(scope="module")
def clean_fixture_site() -> Iterator[Any]:
    """The fixture site on 127.0.0.1 with no anti-bot measures ("clean" scenario), one per module."""
    from tests.fixtures.site.server import FixtureSite

    with FixtureSite(scenario="clean") as running:
        yield running
