"""Webhook integration fixtures: moto (table, queues, a KMS key) with local-mode settings that let
deliveries reach a receiver on 127.0.0.1, and a compressed retry schedule (no waiting)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botscope.config import reset_settings

from tests.helpers.aws import AwsResources, mocked_aws
from tests.integration.webhooks.support import load_deliver_handler

WEBHOOK_ENV = {
    "BOTSCOPE_LOCAL_MODE": "true",
    "BOTSCOPE_ALLOW_PRIVATE_TARGETS": "127.0.0.0/8",
    "BOTSCOPE_WEBHOOK_RETRY_SCHEDULE": "0,0,0",  # 4 attempts, no delay between them
    "BOTSCOPE_WEBHOOK_TIMEOUT_SECONDS": "5",
    # A batch of ten messages to one endpoint is sent in one pass (the caps have their own tests).
    "BOTSCOPE_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT": "10",
    "BOTSCOPE_WEBHOOK_MAX_IN_FLIGHT_PER_HOST": "20",
}


def _reset_webhook_caches() -> None:
    from botscope.store import delivery_queue
    from botscope.webhooks import secrets, urls

    secrets.reset()
    delivery_queue.reset()
    urls.DEFAULT_RESOLVER = None


@pytest.fixture
def aws() -> Iterator[AwsResources]:
    """Overrides the shared fixture: same resources plus a KMS key and the webhook settings."""
    from botscope.local.atomic_dynamodb import atomic_dynamodb

    # Deliveries run on worker threads; moto's DynamoDB is atomic only behind this lock.
    with atomic_dynamodb(), mocked_aws(extra_env=WEBHOOK_ENV) as resources:
        key_id = boto3.client("kms", region_name="us-east-1").create_key(
            Description="webhook secrets (test)"
        )["KeyMetadata"]["KeyId"]
        os.environ["BOTSCOPE_WEBHOOK_KMS_KEY_ID"] = key_id
        reset_settings()
        _reset_webhook_caches()
        try:
            yield resources
        finally:
            os.environ.pop("BOTSCOPE_WEBHOOK_KMS_KEY_ID", None)
            for name in WEBHOOK_ENV:
                os.environ.pop(name, None)
            reset_settings()
            _reset_webhook_caches()


@pytest.fixture(scope="session")
def deliver_handler() -> Any:
    return load_deliver_handler()


@pytest.fixture
def principal_factory(workspace_factory: Any) -> Any:
    """``principal, key = principal_factory()``: a Principal for the service layer plus its API key."""
    from botscope.auth.principal import Principal

    def make(plan: str = "growth") -> tuple[Principal, str]:
        ws, key = workspace_factory(plan)
        return Principal(
            workspace_id=ws["workspace_id"],
            plan=plan,
            workspace_status="active",
            actor_type="api_key",
            actor_id="key_test",
        ), key

    return make
