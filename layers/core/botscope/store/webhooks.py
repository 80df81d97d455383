"""Webhook endpoints and deliveries (docs/data-model.md).

* endpoint ``WS#<ws>`` / ``WH#<wh>`` (listed through gsi1 ``WS#<ws>#WH``) with its uniqueness item
  ``WS#<ws>`` / ``WHURL#<url_hash>``; the workspace item counts endpoints in ``webhook_count``.
  Create and delete are one transaction each, so the limit and the uniqueness hold under races.
* delivery ``WH#<wh>`` / ``DLV#<evt>``: one per (event, endpoint), with every attempt. All state
  changes are conditional writes: an attempt is claimed before it is sent and recorded only if
  no newer attempt was, and ``delivered`` / ``failed`` are written only over ``pending`` — so a
  redelivered SQS message never yields a second successful delivery.

Reads return ``Webhook`` and ``Delivery`` entities (``botscope.store.entity``).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from botscope.store.entity import Entity
from botscope.store.table import (
    cancellation_codes,
    conditional_update,
    dynamodb_client,
    is_conditional_failure,
    now_iso,
    query_all,
    serialize,
    table,
    ttl_after,
    url_hash,
    ws_pk,
)

MAX_ENDPOINTS_PER_WORKSPACE = 10
DELIVERY_RETENTION_SECONDS = 30 * 24 * 3600

WebhookStatus = Literal["enabled", "disabled"]
DeliveryStatus = Literal["pending", "delivered", "failed"]
ENABLED: Final = "enabled"
DISABLED: Final = "disabled"
PENDING: Final = "pending"
DELIVERED: Final = "delivered"
FAILED: Final = "failed"


class EndpointLimitReached(Exception):
    pass


class DuplicateEndpoint(Exception):
    pass


class Webhook(Entity):
    """A webhook endpoint. ``secret_ciphertext`` is encrypted as ``secret_scheme`` says
    (``botscope.webhooks.secrets``); after a rotation the ``previous_secret_*`` pair keeps
    signing until ``rotation_overlap_until``."""

    webhook_id: str
    workspace_id: str
    label: str
    description: str | None = None
    url: str
    event_types: list[str]
    created_by: str
    secret_scheme: str
    secret_ciphertext: str
    status: WebhookStatus
    disabled_reason: str | None = None
    disabled_at: str | None = None
    created_at: str
    updated_at: str | None = None
    last_success_at: str | None = None
    last_failure_at: str | None = None
    failing_since: str | None = None
    previous_secret_scheme: str | None = None
    previous_secret_ciphertext: str | None = None
    rotation_overlap_until: str | None = None
    rotated_at: str | None = None


class DeliveryAttempt(Entity):
    """One recorded attempt of a delivery (an element of ``Delivery.attempts``)."""

    attempt: int
    at: str
    status_code: int | None = None
    duration_ms: int
    error: str | None = None
    next_retry_at: str | None = None


class Delivery(Entity):
    """One event to one endpoint: the exact signed ``payload`` and every attempt. ``claim_attempt``
    / ``claim_until`` (epoch seconds) are the lease of the attempt being sent."""

    delivery_id: str
    webhook_id: str
    workspace_id: str
    event_id: str
    event_type: str
    payload: str
    status: DeliveryStatus
    attempt_count: int
    attempts: list[DeliveryAttempt]
    next_retry_at: str | None = None
    error: str | None = None
    created_at: str
    updated_at: str
    redelivered_at: str | None = None
    claim_attempt: int | None = None
    claim_until: int | None = None


def _endpoint_key(workspace_id: str, webhook_id: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": f"WH#{webhook_id}"}


def _url_claim_key(workspace_id: str, url: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": f"WHURL#{url_hash(url)}"}


def _workspace_key(workspace_id: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": "META"}


# --- transaction items shared by create, update and delete -------------------------------------


def _claim_url(table_name: str, workspace_id: str, webhook_id: str, url: str) -> dict[str, Any]:
    """The uniqueness item of ``url`` in the workspace; fails when another endpoint has it."""
    item = {**_url_claim_key(workspace_id, url), "webhook_id": webhook_id}
    return {
        "Put": {
            "TableName": table_name,
            "Item": serialize(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _release_url(table_name: str, workspace_id: str, url: str) -> dict[str, Any]:
    return {"Delete": {"TableName": table_name, "Key": serialize(_url_claim_key(workspace_id, url))}}


def _count_endpoint(table_name: str, workspace_id: str) -> dict[str, Any]:
    """One more endpoint on the workspace's counter; fails at the limit (or with no workspace)."""
    return {
        "Update": {
            "TableName": table_name,
            "Key": serialize(_workspace_key(workspace_id)),
            "UpdateExpression": "ADD webhook_count :one",
            "ConditionExpression": "attribute_exists(pk) AND "
            "(attribute_not_exists(webhook_count) OR webhook_count < :limit)",
            "ExpressionAttributeValues": serialize({":one": 1, ":limit": MAX_ENDPOINTS_PER_WORKSPACE}),
        }
    }


def _uncount_endpoint(table_name: str, workspace_id: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table_name,
            "Key": serialize(_workspace_key(workspace_id)),
            "UpdateExpression": "ADD webhook_count :minus",
            "ConditionExpression": "webhook_count > :zero",
            "ExpressionAttributeValues": serialize({":minus": -1, ":zero": 0}),
        }
    }


# --- endpoints ---------------------------------------------------------------------------------


def _new_endpoint_item(workspace_id: str, webhook_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """The endpoint item as created: enabled, never delivered to (``failing_since`` appears only
    while deliveries fail)."""
    return {
        **attributes,
        **_endpoint_key(workspace_id, webhook_id),
        "gsi1pk": f"WS#{workspace_id}#WH",
        "gsi1sk": webhook_id,
        "webhook_id": webhook_id,
        "workspace_id": workspace_id,
        "status": ENABLED,
        "disabled_reason": None,
        "disabled_at": None,
        "created_at": now_iso(),
        "last_success_at": None,
        "last_failure_at": None,
    }


def create_endpoint(
    *,
    workspace_id: str,
    webhook_id: str,
    label: str,
    url: str,
    event_types: list[str],
    created_by: str,
    secret_scheme: str,
    secret_ciphertext: str,
    description: str | None = None,
) -> Webhook:
    """Writes the endpoint, its URL uniqueness item and the workspace counter in one transaction:
    ``EndpointLimitReached`` at the workspace's limit, ``DuplicateEndpoint`` when the workspace
    already has an endpoint for ``url``."""
    item = _new_endpoint_item(
        workspace_id,
        webhook_id,
        {
            "label": label,
            "url": url,
            "event_types": event_types,
            "created_by": created_by,
            "description": description,
            "secret_scheme": secret_scheme,
            "secret_ciphertext": secret_ciphertext,
        },
    )
    table_name = table().name
    put = {
        "TableName": table_name,
        "Item": serialize(item),
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    try:
        dynamodb_client().transact_write_items(
            TransactItems=[
                _count_endpoint(table_name, workspace_id),
                _claim_url(table_name, workspace_id, webhook_id, url),
                {"Put": put},
            ]
        )
    except ClientError as exc:
        reasons = cancellation_codes(exc)
        if reasons[:1] == ["ConditionalCheckFailed"]:
            raise EndpointLimitReached() from exc
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            raise DuplicateEndpoint() from exc
        raise
    return Webhook.from_item(item)


def get_endpoint(workspace_id: str, webhook_id: str) -> Webhook | None:
    item = table().get_item(Key=_endpoint_key(workspace_id, webhook_id), ConsistentRead=True).get("Item")
    return Webhook.from_item(item) if item else None


def list_endpoints(workspace_id: str) -> list[Webhook]:
    """All endpoints of a workspace, newest first. Read from the base table (strongly
    consistent) so an endpoint created a moment ago already receives events."""
    items = query_all(
        KeyConditionExpression=Key("pk").eq(ws_pk(workspace_id)) & Key("sk").begins_with("WH#"),
        ConsistentRead=True,
        ScanIndexForward=False,
    )
    return [Webhook.from_item(i) for i in items]


def delete_endpoint(workspace_id: str, webhook_id: str) -> bool:
    """Deletes the endpoint, its uniqueness item and one count; False when it is gone."""
    endpoint = get_endpoint(workspace_id, webhook_id)
    if endpoint is None:
        return False
    table_name = table().name
    delete = {
        "TableName": table_name,
        "Key": serialize(_endpoint_key(workspace_id, webhook_id)),
        "ConditionExpression": "attribute_exists(pk)",
    }
    try:
        dynamodb_client().transact_write_items(
            TransactItems=[
                {"Delete": delete},
                _release_url(table_name, workspace_id, endpoint.url),
                _uncount_endpoint(table_name, workspace_id),
            ]
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False  # deleted concurrently
        raise
    return True


def _update_expression(changes: dict[str, Any], remove: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """``SET``/``REMOVE`` clauses over placeholders (``#f<i> = :v<i>``, ``#r<i>``) and their names."""
    names = {f"#f{i}": name for i, name in enumerate(changes)}
    clauses = []
    if changes:
        clauses.append("SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(changes))))
    if remove:
        removes = {f"#r{i}": name for i, name in enumerate(remove)}
        names.update(removes)
        clauses.append("REMOVE " + ", ".join(removes))
    return " ".join(clauses), names


def _update_in_place(
    workspace_id: str, webhook_id: str, expression: str, names: dict[str, str], values: dict[str, Any]
) -> Webhook | None:
    kwargs: dict[str, Any] = {
        "Key": _endpoint_key(workspace_id, webhook_id),
        "UpdateExpression": expression,
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
    return Webhook.from_item(result["Attributes"])


def _update_moving_url(
    workspace_id: str,
    webhook_id: str,
    update: tuple[str, dict[str, str], dict[str, Any]],
    *,
    old_url: str,
    new_url: str,
) -> Webhook | None:
    """The update, the old URL's uniqueness item released and the new one's claimed, in one
    transaction; the update holds only while the endpoint still has ``old_url``."""
    expression, names, values = update
    table_name = table().name
    endpoint_update = {
        "TableName": table_name,
        "Key": serialize(_endpoint_key(workspace_id, webhook_id)),
        "UpdateExpression": expression,
        "ConditionExpression": "attribute_exists(pk) AND #u = :old_url",
        "ExpressionAttributeNames": {**names, "#u": "url"},
        "ExpressionAttributeValues": serialize({**values, ":old_url": old_url}),
    }
    try:
        dynamodb_client().transact_write_items(
            TransactItems=[
                {"Update": endpoint_update},
                _release_url(table_name, workspace_id, old_url),
                _claim_url(table_name, workspace_id, webhook_id, new_url),
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


def update_endpoint(
    workspace_id: str,
    webhook_id: str,
    changes: dict[str, Any],
    *,
    old_url: str | None = None,
    remove: tuple[str, ...] = (),
) -> Webhook | None:
    """Sets ``changes`` (and removes ``remove``), attributes of ``Webhook``, on an existing
    endpoint; returns it, or None when it is gone. A new ``url`` (``old_url`` given) moves the URL
    uniqueness item in the same transaction: ``DuplicateEndpoint`` when the workspace already has
    an endpoint for it."""
    unknown = (set(changes) | set(remove)) - set(Webhook.model_fields)
    if unknown:
        raise ValueError(f"not webhook attributes: {sorted(unknown)}")
    expression, names = _update_expression(changes, remove)
    values = {f":v{i}": value for i, value in enumerate(changes.values())}
    new_url = changes.get("url")
    if new_url is None or old_url is None or url_hash(new_url) == url_hash(old_url):
        return _update_in_place(workspace_id, webhook_id, expression, names, values)
    return _update_moving_url(
        workspace_id, webhook_id, (expression, names, values), old_url=old_url, new_url=new_url
    )


def disable_endpoint(workspace_id: str, webhook_id: str, reason: str) -> bool:
    return conditional_update(
        Key=_endpoint_key(workspace_id, webhook_id),
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
    conditional_update(
        Key=_endpoint_key(workspace_id, webhook_id),
        UpdateExpression="SET last_success_at = :now REMOVE failing_since",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":now": now_iso()},
    )


def note_endpoint_failure(workspace_id: str, webhook_id: str, at: str) -> str | None:
    """Records a failed attempt; returns since when the endpoint has been failing (ISO), None
    when the endpoint is gone."""
    try:
        result = table().update_item(
            Key=_endpoint_key(workspace_id, webhook_id),
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


def get_delivery(webhook_id: str, event_id: str) -> Delivery | None:
    item = table().get_item(Key=_dlv_key(webhook_id, event_id), ConsistentRead=True).get("Item")
    return Delivery.from_item(item) if item else None


def claim_attempt(
    webhook_id: str, event_id: str, attempt: int, *, now_epoch: int, lease_seconds: int
) -> Delivery | None:
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
    return Delivery.from_item(result["Attributes"])


def record_attempt(
    webhook_id: str,
    event_id: str,
    attempt: DeliveryAttempt,
    *,
    status: DeliveryStatus,
    error: str | None,
) -> bool:
    """Appends ``attempt`` and moves the delivery to ``status`` (its ``next_retry_at`` is the
    attempt's); only over a pending delivery whose last recorded attempt is older than this one
    (False otherwise: nothing written)."""
    return conditional_update(
        Key=_dlv_key(webhook_id, event_id),
        UpdateExpression="SET attempts = list_append(attempts, :a), attempt_count = :n, #s = :s, "
        "next_retry_at = :nr, #e = :err, updated_at = :now REMOVE claim_until",
        ConditionExpression="#s = :pending AND attempt_count < :n",
        ExpressionAttributeNames={"#s": "status", "#e": "error"},
        ExpressionAttributeValues={
            ":a": [attempt.to_dict()],
            ":n": attempt.attempt,
            ":s": status,
            ":nr": attempt.next_retry_at,
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
) -> tuple[list[Delivery], bool]:
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
    return [Delivery.from_item(i) for i in items[:limit]], len(items) > limit


def find_delivery(webhook_id: str, delivery_id: str) -> Delivery | None:
    """The delivery with ``delivery_id`` (``dlv_…``) of an endpoint."""
    items = query_all(
        KeyConditionExpression=Key("pk").eq(f"WH#{webhook_id}") & Key("sk").begins_with("DLV#"),
        FilterExpression=Attr("delivery_id").eq(delivery_id),
        ConsistentRead=True,
    )
    return Delivery.from_item(items[0]) if items else None


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
