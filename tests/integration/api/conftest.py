"""Fixtures for the scan API tests: a trivial state machine in moto (the workflow edge), a fake DNS
resolver so public-looking hosts resolve without network, and DynamoDB writes made atomic in moto
(real DynamoDB applies each write and transaction atomically; moto's in-process backend does not
under threads, and it restores a whole-table backup when a transaction fails)."""

from __future__ import annotations

from typing import Any

import pytest
from botscope.config import reset_settings

from tests.integration.api._support import fake_resolver


@pytest.fixture
def scan_api(
    api_client: Any, state_machine: str, atomic_dynamodb: None, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """The API test client wired to the moto state machine and the fake resolver."""
    from botscope.service import scans as service

    # Bad-target tests must prove the guard's default: nothing private is allowed.
    monkeypatch.delenv("BOTSCOPE_ALLOW_PRIVATE_TARGETS", raising=False)
    reset_settings()
    monkeypatch.setattr(service, "target_resolver", fake_resolver)
    return api_client
