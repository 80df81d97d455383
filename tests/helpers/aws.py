"""Moto-backed AWS resources for tests, built from template.yaml's own definitions."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
from botscope.aws.template import table_create_kwargs, table_ttl_attribute
from botscope.config import reset_settings
from botscope.store.table import reset_clients

REGION = "us-east-1"


@dataclass
class AwsResources:
    table_name: str
    bucket: str
    webhook_queue_url: str
    webhook_dlq_url: str


def _set_env(**values: str) -> dict[str, str | None]:
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    return previous


def _restore_env(previous: dict[str, str | None]) -> None:
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def create_resources(prefix: str = "botscope-test") -> AwsResources:
    """Creates the table, bucket and queues in whatever AWS endpoint boto3 currently targets."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    table_name = f"{prefix}-table"
    ddb.create_table(**table_create_kwargs(table_name))
    ttl = table_ttl_attribute()
    if ttl:
        ddb.update_time_to_live(
            TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
        )
    s3 = boto3.client("s3", region_name=REGION)
    bucket = f"{prefix}-reports"
    s3.create_bucket(Bucket=bucket)
    sqs = boto3.client("sqs", region_name=REGION)
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-webhooks-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-webhooks",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "20"}),
            "VisibilityTimeout": "60",
        },
    )["QueueUrl"]
    return AwsResources(table_name, bucket, queue_url, dlq_url)


@contextmanager
def mocked_aws(extra_env: dict[str, str] | None = None) -> Iterator[AwsResources]:
    """In-process moto with BotScope's resources and the environment pointing at them."""
    from moto import mock_aws

    previous = _set_env(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
    )
    with mock_aws():
        resources = create_resources()
        prev_bs = _set_env(
            BOTSCOPE_TABLE_NAME=resources.table_name,
            BOTSCOPE_REPORTS_BUCKET=resources.bucket,
            BOTSCOPE_WEBHOOK_QUEUE_URL=resources.webhook_queue_url,
            **(extra_env or {}),
        )
        reset_settings()
        reset_clients()
        try:
            yield resources
        finally:
            _restore_env(prev_bs)
            reset_settings()
            reset_clients()
    _restore_env(previous)
