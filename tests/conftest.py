"""Shared fixtures. AWS plumbing is tested against moto; the scanner against real HTTP servers on
127.0.0.1. Feature-specific fixtures live in the conftest.py of their own test folder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.aws import AwsResources, mocked_aws


@pytest.fixture
def aws() -> Iterator[AwsResources]:
    """Moto with the table (from template.yaml), reports bucket and webhook queues."""
    with mocked_aws() as resources:
        yield resources


@pytest.fixture
def workspace_factory(aws: AwsResources) -> Any:
    """Creates a workspace with an API key: ``ws, key = workspace_factory("growth")``."""
    from botscope.store import credentials, workspaces

    def make(plan: str = "growth", **kwargs: Any) -> tuple[dict[str, Any], str]:
        ws = workspaces.create_workspace(f"{plan} workspace", plan, **kwargs)
        key = credentials.create_api_key(ws["workspace_id"], "test key")
        return ws, key["key"]

    return make


@pytest.fixture
def api_client(aws: AwsResources) -> Any:
    from fastapi.testclient import TestClient

    from botscope.api.app import create_app

    with TestClient(create_app(), base_url="http://127.0.0.1:8000") as client:
        yield client
