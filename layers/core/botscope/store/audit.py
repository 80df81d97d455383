"""Audit records: one partition per workspace (``WS#<ws>#AUDIT``), sort key the sortable ``aud_`` id,
so newest-first listing with an id cursor is a single Query."""

from __future__ import annotations

from typing import Any

from botscope import ids
from botscope.auth.principal import ActorType
from botscope.store.entity import Entity
from botscope.store.table import is_expired, now_iso, table, ttl_after

AUDIT_RETENTION_SECONDS = 400 * 24 * 3600


class AuditRecord(Entity):
    """Who did what, when: ``actor`` is ``<actor_type>:<actor_id>``; ``details`` holds the
    action's own values (URLs already redacted by ``botscope.audit``)."""

    audit_id: str
    at: str
    action: str
    target: str
    actor: str
    actor_type: ActorType
    actor_id: str
    request_id: str | None = None
    source_ip: str | None = None
    details: dict[str, Any] = {}


def _pk(workspace_id: str) -> str:
    return f"WS#{workspace_id}#AUDIT"


def put_record(
    workspace_id: str,
    *,
    actor_type: ActorType,
    actor_id: str,
    action: str,
    target: str,
    request_id: str | None,
    source_ip: str | None,
    details: dict[str, Any] | None = None,
) -> str:
    audit_id = ids.new_id("aud")
    table().put_item(
        Item={
            "pk": _pk(workspace_id),
            "sk": audit_id,
            "audit_id": audit_id,
            "actor": f"{actor_type}:{actor_id}",
            "actor_type": actor_type,
            "actor_id": actor_id,
            "action": action,
            "target": target,
            "request_id": request_id,
            "source_ip": source_ip,
            "at": now_iso(),
            "details": details or {},
            "expires_at": ttl_after(AUDIT_RETENTION_SECONDS),
        }
    )
    return audit_id


def list_records(
    workspace_id: str, *, limit: int, starting_after: str | None = None
) -> tuple[list[AuditRecord], bool]:
    """Newest first. Returns ``(records, has_more)``; ``starting_after`` is the last id of the previous page."""
    key_condition = "pk = :pk"
    values: dict[str, Any] = {":pk": _pk(workspace_id)}
    if starting_after:
        key_condition += " AND sk < :after"
        values[":after"] = starting_after
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
        "Limit": limit + 1,
    }
    found: list[dict[str, Any]] = []
    while len(found) <= limit:
        page = table().query(**kwargs)
        # TTL deletes lazily: skip records past retention that are still physically present.
        found.extend(item for item in page.get("Items", []) if not is_expired(item))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [AuditRecord.from_item(item) for item in found[:limit]], len(found) > limit
