"""Access to the single DynamoDB table and the S3 reports bucket.

boto3 clients are created once per process (Lambda reuses them across invocations). The endpoint
comes from ``AWS_ENDPOINT_URL`` (boto3 reads it itself), so the same code talks to moto locally and
to AWS when deployed. Key builders live here so every repository spells keys the same way; the item
types and their keys are documented in docs/data-model.md.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from botscope.config import get_settings
from botscope.isotime import iso as iso
from botscope.isotime import now_iso as now_iso
from botscope.isotime import parse_iso as parse_iso
from botscope.isotime import utcnow as utcnow

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)

# Number of shards of the monitoring due index (GSI2). Spreads the scheduler's reads and writes over
# many partition keys so no single key is hot (issue 5).
DUE_SHARDS = 32


@lru_cache(maxsize=1)
def dynamodb_resource() -> Any:
    return boto3.resource("dynamodb", region_name=get_settings().region, config=_BOTO_CONFIG)


@lru_cache(maxsize=1)
def dynamodb_client() -> Any:
    return boto3.client("dynamodb", region_name=get_settings().region, config=_BOTO_CONFIG)


@lru_cache(maxsize=1)
def s3_client() -> Any:
    return boto3.client("s3", region_name=get_settings().region, config=_BOTO_CONFIG)


@lru_cache(maxsize=1)
def sqs_client() -> Any:
    return boto3.client("sqs", region_name=get_settings().region, config=_BOTO_CONFIG)


@lru_cache(maxsize=1)
def sfn_client() -> Any:
    return boto3.client("stepfunctions", region_name=get_settings().region, config=_BOTO_CONFIG)


@lru_cache(maxsize=1)
def kms_client() -> Any:
    """Encrypts and decrypts webhook signing secrets (``botscope.webhooks.secrets``)."""
    return boto3.client("kms", region_name=get_settings().region)


def table() -> Any:
    return dynamodb_resource().Table(get_settings().table_name)


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints and table names between cases)."""
    for fn in (dynamodb_resource, dynamodb_client, s3_client, sqs_client, sfn_client, kms_client):
        fn.cache_clear()


# --- reads and conditional writes shared by the repositories -----------------------------------


def query_all(**kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a ``Table.query``, following ``LastEvaluatedKey`` across pages (a page stops
    at 1 MB, so a single call can silently miss items)."""
    items: list[dict[str, Any]] = []
    while True:
        page = table().query(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def is_conditional_failure(exc: ClientError) -> bool:
    """Whether a write lost its condition: a single conditional write, or a transaction cancelled
    because one of its conditions failed. A transaction cancelled for another reason (a concurrent
    transaction on the same item: ``TransactionConflict``; throttling) lost no condition: it must be
    retried, not read as "someone else already did it"."""
    code = exc.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = cancellation_codes(exc)
    return not reasons or "ConditionalCheckFailed" in reasons


def conditional_update(**kwargs: Any) -> bool:
    """``Table.update_item`` with a ``ConditionExpression``: True when it wrote, False when the
    condition did not hold (the usual "someone else got there first" of a retried or racing writer)."""
    try:
        table().update_item(**kwargs)
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def cancellation_codes(exc: ClientError) -> list[str]:
    """Per-item reasons of a cancelled ``TransactWriteItems`` ("None" for items that passed)."""
    return [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]


# --- time -------------------------------------------------------------------------------------

# utcnow / iso / now_iso / parse_iso live in botscope.isotime (imported above; stores import them from here).


def ttl_after(seconds: int, *, now: datetime | None = None) -> int:
    """Epoch seconds for the table's ``expires_at`` TTL attribute."""
    return int(((now or utcnow()) + timedelta(seconds=seconds)).timestamp())


def is_expired(item: dict[str, Any], *, now: datetime | None = None) -> bool:
    """DynamoDB deletes expired items lazily (up to days later): readers must filter too."""
    expires_at = item.get("expires_at")
    return expires_at is not None and int(expires_at) <= int((now or utcnow()).timestamp())


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def due_shard(monitored_url_id: str) -> int:
    return int(hashlib.sha256(monitored_url_id.encode()).hexdigest(), 16) % DUE_SHARDS


# --- keys (docs/data-model.md) -------------------------------------------------------------------


def ws_pk(workspace_id: str) -> str:
    return f"WS#{workspace_id}"


def scan_pk(scan_job_id: str) -> str:
    return f"SCAN#{scan_job_id}"


def strip_keys(item: dict[str, Any]) -> dict[str, Any]:
    """Drop storage-only attributes before an item leaves the repository."""
    return {
        k: v
        for k, v in item.items()
        if k not in {"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "expires_at"}
    }


# --- value conversion --------------------------------------------------------------------------
# DynamoDB numbers come back as Decimal and floats cannot be written: convert at the boundary so
# callers only ever see plain JSON types.


def to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    return value


def from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [from_dynamo(v) for v in value]
    return value


def plain_item(item: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = from_dynamo(strip_keys(item))
    return plain


_serializer = TypeSerializer()


def serialize(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(to_dynamo(v)) for k, v in values.items()}
