"""Webhook endpoints and deliveries (docs/data-model.md).

* endpoint ``WS#<ws>`` / ``WH#<wh>`` (listed through gsi1 ``WS#<ws>#WH``) with its uniqueness item
  ``WS#<ws>`` / ``WHURL#<url_hash>``; the workspace item counts endpoints in ``webhook_count``.
  Create and delete are one transaction each, so the limit and the uniqueness hold under races.
* delivery ``WH#<wh>`` / ``DLV#<evt>``: one per (event, endpoint), with every attempt. All state
  changes are conditional writes: an attempt is claimed before it is sent and recorded only if
  no newer attempt was, and ``delivered`` / ``failed`` are written only over ``pending`` — so a
  redelivered SQS message never yields a second successful delivery.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from botscope.store.table import (
    cancellation_codes,
    conditional_update,
    dynamodb_client,
    is_conditional_failure,
    now_iso,
    query_all,
    strip_keys,
    table,
    ttl_after,
    url_hash,
    ws_pk,
)

MAX_ENDPOINTS_PER_WORKSPACE = 10
DELIVERY_RETENTION_SECONDS = 30 * 24 * 3600

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
ENABLED, DISABLED = "enabled", "disabled"


class EndpointLimitReached(Exception):
    pass


class DuplicateEndpoint(Exception):
    pass


def _wh_sk(webhook_id: str) -> str:
    return f"WH#{webhook_id}"


# --- endpoints ---------------------------------------------------------------------------------


def create_endpoint(item: dict[str, Any]) -> dict[str, Any]:
    """Writes the endpoint, its URL uniqueness item and the workspace counter in one transaction.
    ``item`` carries webhook_id, workspace_id, label, url, event_types and the secret fields."""
    ws, wh = item["workspace_id"], item["webhook_id"]
    full = {
        **item,
        "pk": ws_pk(ws),
        "sk": _wh_sk(wh),
        "gsi1pk": f"WS#{ws}#WH",
        "gsi1sk": wh,
        "status": ENABLED,
        "disabled_reason": None,
        "disabled_at": None,
        "created_at": now_iso(),
        "last_success_at": None,
        "last_failure_at": None,
    }  # failing_since: set while failing
    ser = TypeSerializer()
    table_name = table().name
    try:
        dynamodb_client().transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table_name,
                        "Key": {"pk": ser.serialize(ws_pk(ws)), "sk": ser.serialize("META")},
                        "UpdateExpression": "ADD webhook_count :one",
                        "ConditionExpression": "attribute_exists(pk) AND "
                        "(attribute_not_exists(webhook_count) OR webhook_count < :limit)",
                        "ExpressionAttributeValues": {
                            ":one": ser.serialize(1),
                            ":limit": ser.serialize(MAX_ENDPOINTS_PER_WORKSPACE),
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": table_name,
                        "Item": {
                            k: ser.serialize(v)
                            for k, v in {
                                "pk": ws_pk(ws),
                                "sk": f"WHURL#{url_hash(item['url'])}",
                                "webhook_id": wh,
                            }.items()
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": table_name,
                        "Item": {k: ser.serialize(v) for k, v in full.items()},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    except ClientError as exc:
        reasons = cancellation_codes(exc)
        if reasons[:1] == ["ConditionalCheckFailed"]:
            raise EndpointLimitReached() from exc
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            raise DuplicateEndpoint() from exc
        raise
    return strip_keys(full)


def get_endpoint(workspace_id: str, webhook_id: str) -> dict[str, Any] | None:
    item = (
        table()
        .get_item(Key={"pk": ws_pk(workspace_id), "sk": _wh_sk(webhook_id)}, ConsistentRead=True)
        .get("Item")
    )
    return strip_keys(item) if item else None


def list_endpoints(workspace_id: str) -> list[dict[str, Any]]:
    """All endpoints of a workspace, newest first. Read from the base table (strongly
    consistent) so an endpoint created a moment ago already receives events."""
    items = query_all(
        KeyConditionExpression=Key("pk").eq(ws_pk(workspace_id)) & Key("sk").begins_with("WH#"),
        ConsistentRead=True,
        ScanIndexForward=False,
    )
    return [strip_keys(i) for i in items]


def delete_endpoint(workspace_id: str, webhook_id: str) -> bool:
    endpoint = get_endpoint(workspace_id, webhook_id)
    if endpoint is None:
        return False
    ser = TypeSerializer()
    table_name = table().name
    try:
        dynamodb_client().transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": table_name,
                        "Key": {
                            "pk": ser.serialize(ws_pk(workspace_id)),
                            "sk": ser.serialize(_wh_sk(webhook_id)),
                        },
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {
                    "Delete": {
                        "TableName": table_name,
                        "Key": {
                            "pk": ser.serialize(ws_pk(workspace_id)),
                            "sk": ser.serialize(f"WHURL#{url_hash(endpoint['url'])}"),
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": table_name,
                        "Key": {"pk": ser.serialize(ws_pk(workspace_id)), "sk": ser.serialize("META")},
                        "UpdateExpression": "ADD webhook_count :minus",
                        "ConditionExpression": "webhook_count > :zero",
                        "ExpressionAttributeValues": {":minus": ser.serialize(-1), ":zero": ser.serialize(0)},
                    }
                },
            ]
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False  # deleted concurrently
        raise
    return True


def disable_endpoint(workspace_id: str, webhook_id: str, reason: str) -> bool:
    return conditional_update(
        Key={"pk": ws_pk(workspace_id), "sk": _wh_sk(webhook_id)},
        UpdateExpression="SET #s = :disabled, disabled_reason = :r, disabled_at = :now",
        ConditionExpression="attribute_exists(pk) AND #s = :enabled",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":disabled": DISABLED,
            ":enabled": ENABLED,
            ":r": reason,
            ":now": now_iso(),
        },
    )


def note_endpoint_success(workspace_id: str, webhook_id: str) -> None:
    try:
        table().update_item(
            Key={"pk": ws_pk(workspace_id), "sk": _wh_sk(webhook_id)},
            UpdateExpression="SET last_success_at = :now REMOVE failing_since",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":now": now_iso()},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise


def note_endpoint_failure(workspace_id: str, webhook_id: str, at: str) -> str | None:
    """Records a failed attempt; returns since when the endpoint has been failing (ISO)."""
    try:
        result = table().update_item(
            Key={"pk": ws_pk(workspace_id), "sk": _wh_sk(webhook_id)},
            UpdateExpression="SET last_failure_at = :at, failing_since = if_not_exists(failing_since, :at)",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":at": at},
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            return None
        raise
    return str(result["Attributes"]["failing_since"])


# --- deliveries --------------------------------------------------------------------------------


def _dlv_key(webhook_id: str, event_id: str) -> dict[str, str]:
    return {"pk": f"WH#{webhook_id}", "sk": f"DLV#{event_id}"}


def create_delivery(
    *, webhook_id: str, workspace_id: str, event_id: str, delivery_id: str, event_type: str, payload: str
) -> bool:
    """The pending delivery of one event to one endpoint; False if it already exists."""
    try:
        table().put_item(
            Item={
                **_dlv_key(webhook_id, event_id),
                "delivery_id": delivery_id,
                "webhook_id": webhook_id,
                "workspace_id": workspace_id,
                "event_id": event_id,
                "event_type": event_type,
                "payload": payload,
                "status": PENDING,
                "attempt_count": 0,
                "attempts": [],
                "next_retry_at": None,
                "error": None,
                "created_at": now_iso(),
                "updated_at": now_iso(),
                "expires_at": ttl_after(DELIVERY_RETENTION_SECONDS),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def get_delivery(webhook_id: str, event_id: str) -> dict[str, Any] | None:
    item = table().get_item(Key=_dlv_key(webhook_id, event_id), ConsistentRead=True).get("Item")
    return strip_keys(item) if item else None


def claim_attempt(
    webhook_id: str, event_id: str, attempt: int, *, now_epoch: int, lease_seconds: int
) -> dict[str, Any] | None:
    """Reserves attempt ``attempt`` for this worker for ``lease_seconds`` and returns the delivery.
    None when the delivery does not exist or is no longer pending, a later attempt was already
    recorded, or another worker holds the lease."""
    try:
        result = table().update_item(
            Key=_dlv_key(webhook_id, event_id),
            UpdateExpression="SET claim_attempt = :n, claim_until = :until",
            ConditionExpression="#s = :pending AND attempt_count < :n AND "
            "(attribute_not_exists(claim_until) OR claim_until < :now "
            "OR claim_attempt < :n)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":pending": PENDING,
                ":n": attempt,
                ":now": now_epoch,
                ":until": now_epoch + lease_seconds,
            },
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            return None
        raise
    return strip_keys(result["Attributes"])


def record_attempt(
    webhook_id: str,
    event_id: str,
    attempt: int,
    record: dict[str, Any],
    *,
    status: str,
    next_retry_at: str | None,
    error: str | None,
) -> bool:
    """Appends one attempt and moves the delivery to ``status``; only over a pending delivery
    whose last recorded attempt is older than this one (False otherwise: nothing written)."""
    return conditional_update(
        Key=_dlv_key(webhook_id, event_id),
        UpdateExpression="SET attempts = list_append(attempts, :a), attempt_count = :n, #s = :s, "
        "next_retry_at = :nr, #e = :err, updated_at = :now REMOVE claim_until",
        ConditionExpression="#s = :pending AND attempt_count < :n",
        ExpressionAttributeNames={"#s": "status", "#e": "error"},
        ExpressionAttributeValues={
            ":a": [record],
            ":n": attempt,
            ":s": status,
            ":nr": next_retry_at,
            ":err": error,
            ":pending": PENDING,
            ":now": now_iso(),
        },
    )


def fail_delivery(webhook_id: str, event_id: str, error: str) -> bool:
    """Marks a pending delivery failed without an attempt (e.g. the endpoint was disabled)."""
    return conditional_update(
        Key=_dlv_key(webhook_id, event_id),
        UpdateExpression="SET #s = :failed, #e = :err, next_retry_at = :none, updated_at = :now",
        ConditionExpression="#s = :pending",
        ExpressionAttributeNames={"#s": "status", "#e": "error"},
        ExpressionAttributeValues={
            ":failed": FAILED,
            ":err": error,
            ":none": None,
            ":pending": PENDING,
            ":now": now_iso(),
        },
    )


def list_deliveries(
    webhook_id: str, *, limit: int = 25, starting_after: str | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """Deliveries of an endpoint, newest event first; ``starting_after`` is an event id."""
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(f"WH#{webhook_id}") & Key("sk").begins_with("DLV#"),
        "ScanIndexForward": False,
        "Limit": limit + 1,
        "ConsistentRead": True,
    }
    if starting_after:
        kwargs["ExclusiveStartKey"] = _dlv_key(webhook_id, starting_after)
    items = table().query(**kwargs).get("Items", [])
    return [strip_keys(i) for i in items[:limit]], len(items) > limit


# --- endpoint management (PATCH, secret rotation, redelivery) -----------------------------------


def update_endpoint(
    workspace_id: str,
    webhook_id: str,
    changes: dict[str, Any],
    *,
    old_url: str | None = None,
    remove: tuple[str, ...] = (),
) -> dict[str, Any] | None:
    """Sets ``changes`` (and removes ``remove``) on an existing endpoint; returns it, or None when
    it is gone. A new ``url`` (``old_url`` given) moves the URL uniqueness item in the same
    transaction: ``DuplicateEndpoint`` when the workspace already has an endpoint for it."""
    key = {"pk": ws_pk(workspace_id), "sk": _wh_sk(webhook_id)}
    names = {f"#f{i}": name for i, name in enumerate(changes)}
    values = {f":v{i}": value for i, value in enumerate(changes.values())}
    sets = [f"#f{i} = :v{i}" for i in range(len(changes))]
    expression = "SET " + ", ".join(sets) if sets else ""
    if remove:
        removes = {f"#r{i}": name for i, name in enumerate(remove)}
        names.update(removes)
        expression += " REMOVE " + ", ".join(removes)
    new_url = changes.get("url")
    if new_url is None or old_url is None or url_hash(new_url) == url_hash(old_url):
        kwargs: dict[str, Any] = {
            "Key": key,
            "UpdateExpression": expression.strip(),
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_NEW",
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            result = table().update_item(**kwargs)
        except ClientError as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return strip_keys(result["Attributes"])
    ser = TypeSerializer()
    table_name = table().name
    update: dict[str, Any] = {
        "TableName": table_name,
        "Key": {k: ser.serialize(v) for k, v in key.items()},
        "UpdateExpression": expression.strip(),
        "ConditionExpression": "attribute_exists(pk) AND #u = :old_url",
        "ExpressionAttributeNames": {**names, "#u": "url"},
        "ExpressionAttributeValues": {
            **{k: ser.serialize(v) for k, v in values.items()},
            ":old_url": ser.serialize(old_url),
        },
    }
    try:
        dynamodb_client().transact_write_items(
            TransactItems=[
                {"Update": update},
                {
                    "Delete": {
                        "TableName": table_name,
                        "Key": {
                            "pk": ser.serialize(ws_pk(workspace_id)),
                            "sk": ser.serialize(f"WHURL#{url_hash(old_url)}"),
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": table_name,
                        "Item": {
                            k: ser.serialize(v)
                            for k, v in {
                                "pk": ws_pk(workspace_id),
                                "sk": f"WHURL#{url_hash(new_url)}",
                                "webhook_id": webhook_id,
                            }.items()
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    except ClientError as exc:
        reasons = cancellation_codes(exc)
        if len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
            raise DuplicateEndpoint() from exc
        if reasons[:1] == ["ConditionalCheckFailed"]:
            return None
        raise
    return get_endpoint(workspace_id, webhook_id)


def find_delivery(webhook_id: str, delivery_id: str) -> dict[str, Any] | None:
    """The delivery with ``delivery_id`` (``dlv_…``) of an endpoint."""
    items = query_all(
        KeyConditionExpression=Key("pk").eq(f"WH#{webhook_id}") & Key("sk").begins_with("DLV#"),
        FilterExpression=Attr("delivery_id").eq(delivery_id),
        ConsistentRead=True,
    )
    return strip_keys(items[0]) if items else None


def reopen_delivery(webhook_id: str, event_id: str, *, attempt_count: int) -> bool:
    """A finished (delivered or failed) delivery becomes pending again for one more attempt (a
    manual redelivery); False when it is pending already or changed meanwhile."""
    return conditional_update(
        Key=_dlv_key(webhook_id, event_id),
        UpdateExpression="SET #s = :pending, next_retry_at = :none, updated_at = :now, redelivered_at = :now "
        "REMOVE claim_until",
        ConditionExpression="#s IN (:delivered, :failed) AND attempt_count = :n",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":pending": PENDING,
            ":none": None,
            ":now": now_iso(),
            ":delivered": DELIVERED,
            ":failed": FAILED,
            ":n": attempt_count,
        },
    )
