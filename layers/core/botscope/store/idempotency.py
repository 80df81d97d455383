"""Idempotency-Key records (docs/api.md "Scans"; Stripe and draft-ietf-httpapi-idempotency-key-header).

Item ``WS#<ws>`` / ``IDEM#<key>``: ``request_hash``, ``state`` in_flight | done, ``response``
(status code + body), ``expires_at`` (TTL, 24 h after completion).

- The first request with a key writes an ``in_flight`` record with a conditional put and runs.
- A retry with the same key and the same request gets the stored response (replayed for 24 h).
- The same key with a different request → ``IdempotencyMismatch`` (422).
- A retry while the first is still running → ``IdempotencyInFlight`` (409). The in-flight record
  carries a short lease so a request that died mid-way (Lambda timeout) does not block its key for
  a day: after the lease a retry takes over.
- Only successful results are stored. A request that failed with an error is forgotten so that the
  client can fix the cause (free a slot, upgrade) and retry with the same key.
"""

from __future__ import annotations

from typing import Any, Literal

from botocore.exceptions import ClientError

from botscope.errors import IdempotencyInFlight, IdempotencyMismatch
from botscope.store.entity import Entity
from botscope.store.table import (
    is_conditional_failure,
    now_iso,
    table,
    to_dynamo,
    ttl_after,
    utcnow,
    ws_pk,
)

REPLAY_SECONDS = 24 * 3600
IN_FLIGHT_LEASE_SECONDS = 60
MAX_KEY_LENGTH = 255


class StoredResponse(Entity):
    """The response of a completed request, replayed to a retry with the same key."""

    status_code: int
    body: dict[str, Any]


class IdempotencyRecord(Entity):
    """One Idempotency-Key of a workspace: claimed ``in_flight`` (with a lease), then ``done``
    with the response to replay."""

    request_hash: str
    state: Literal["in_flight", "done"]
    created_at: str
    lease_expires_at: int | None = None
    response: StoredResponse | None = None
    completed_at: str | None = None


def _key(workspace_id: str, idempotency_key: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": f"IDEM#{idempotency_key}"}


def _get_record(workspace_id: str, idempotency_key: str) -> IdempotencyRecord | None:
    item = table().get_item(Key=_key(workspace_id, idempotency_key), ConsistentRead=True).get("Item")
    return IdempotencyRecord.from_item(item) if item else None


def begin(
    workspace_id: str,
    idempotency_key: str,
    request_hash: str,
    *,
    lease_seconds: int = IN_FLIGHT_LEASE_SECONDS,
) -> StoredResponse | None:
    """Claims the key for this request. Returns None when the caller must run the request, or the
    stored response to replay."""
    now = int(utcnow().timestamp())
    item = {
        **_key(workspace_id, idempotency_key),
        "request_hash": request_hash,
        "state": "in_flight",
        "created_at": now_iso(),
        "lease_expires_at": now + lease_seconds,
        "expires_at": ttl_after(REPLAY_SECONDS),
    }
    try:
        # Free when absent, expired (TTL deletes lazily), or an abandoned in-flight claim of the same request.
        table().put_item(
            Item=item,
            ConditionExpression=(
                "attribute_not_exists(pk) OR expires_at <= :now OR "
                "(#state = :in_flight AND lease_expires_at <= :now AND request_hash = :hash)"
            ),
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":now": now, ":in_flight": "in_flight", ":hash": request_hash},
        )
        return None
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
    current = _get_record(workspace_id, idempotency_key)
    if current is None or current.request_hash != request_hash:
        raise IdempotencyMismatch(
            "This Idempotency-Key was used with a different request body; use a new key for a new request."
        )
    if current.state == "done" and current.response is not None:
        return current.response
    raise IdempotencyInFlight(
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        headers={"Retry-After": "1"},
    )


def complete(
    workspace_id: str, idempotency_key: str, request_hash: str, *, status_code: int, body: dict[str, Any]
) -> None:
    """Stores the response to replay for 24 hours."""
    table().update_item(
        Key=_key(workspace_id, idempotency_key),
        UpdateExpression="SET #state = :done, #response = :response, expires_at = :exp, completed_at = :at "
        "REMOVE lease_expires_at",
        ConditionExpression="request_hash = :hash",
        ExpressionAttributeNames={"#state": "state", "#response": "response"},
        ExpressionAttributeValues={
            ":done": "done",
            ":response": to_dynamo({"status_code": status_code, "body": body}),
            ":exp": ttl_after(REPLAY_SECONDS),
            ":at": now_iso(),
            ":hash": request_hash,
        },
    )


def abandon(workspace_id: str, idempotency_key: str, request_hash: str) -> None:
    """Forgets an in-flight claim whose request failed (the client may retry with the same key)."""
    try:
        table().delete_item(
            Key=_key(workspace_id, idempotency_key),
            ConditionExpression="#state = :in_flight AND request_hash = :hash",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":in_flight": "in_flight", ":hash": request_hash},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
