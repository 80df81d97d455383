"""Monitored URLs and the workspace's slot counter (docs/data-model.md).

Items:
- monitored URL  ``WS#<ws>`` / ``MON#<mon>``     (gsi1: ``WS#<ws>#MON`` / ``<mon>``; gsi2: due index)
- uniqueness     ``WS#<ws>`` / ``MONURL#<url_hash>`` → ``monitored_url_id``
- slot counter   ``monitor_slots_used`` / ``monitor_slots_limit`` on the workspace item

Enrolling claims a slot and writes both items in ONE ``TransactWriteItems`` whose condition on
the workspace item is ``monitor_slots_used < monitor_slots_limit`` (or no limit): N concurrent
enrollments into M open slots succeed exactly min(N, M) times, and a URL already monitored is
never a second enrollment (its uniqueness item exists). Releasing reverses all three in one
transaction.

This module owns enrollment, release, listing and lookup. Scheduling (next_scan_at, the due index
queries, summaries) belongs to the monitoring feature (issue 5).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from botscope import ids
from botscope.errors import NotFound, SlotsExhausted
from botscope.store.scans import plain_item, serialize
from botscope.store.table import (
    due_shard,
    dynamodb_client,
    is_conditional_failure,
    iso,
    query_all,
    table,
    url_hash,
    utcnow,
    ws_pk,
)


def _monurl_key(workspace_id: str, target_url: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": f"MONURL#{url_hash(target_url)}"}


def due_index_keys(monitored_url_id: str, next_scan_at: str) -> dict[str, str]:
    return {"gsi2pk": f"DUE#{due_shard(monitored_url_id):02d}", "gsi2sk": f"{next_scan_at}#{monitored_url_id}"}


def get_monitored(workspace_id: str, monitored_url_id: str) -> dict[str, Any] | None:
    item = table().get_item(Key={"pk": ws_pk(workspace_id), "sk": f"MON#{monitored_url_id}"},
                            ConsistentRead=True).get("Item")
    return plain_item(item) if item else None


def get_monitored_by_url(workspace_id: str, target_url: str) -> dict[str, Any] | None:
    """The monitored URL record for a normalized URL, or None."""
    marker = table().get_item(Key=_monurl_key(workspace_id, target_url), ConsistentRead=True).get("Item")
    if marker is None:
        return None
    return get_monitored(workspace_id, str(marker["monitored_url_id"]))


def list_monitored(workspace_id: str) -> list[dict[str, Any]]:
    """All monitored URLs of a workspace, newest enrollment first."""
    items = query_all(IndexName="gsi1", KeyConditionExpression="gsi1pk = :pk",
                      ExpressionAttributeValues={":pk": f"{ws_pk(workspace_id)}#MON"}, ScanIndexForward=False)
    return [plain_item(i) for i in items]


def slots(workspace_id: str) -> dict[str, int | None]:
    ws = table().get_item(Key={"pk": ws_pk(workspace_id), "sk": "META"}, ConsistentRead=True).get("Item") or {}
    limit = ws.get("monitor_slots_limit")
    return {"used": int(ws.get("monitor_slots_used") or 0), "limit": None if limit is None else int(limit)}


def enroll(workspace_id: str, target_url: str, *, cadence_seconds: int,
           first_scan_job_id: str | None = None) -> tuple[dict[str, Any], bool]:
    """Puts ``target_url`` (normalized) under monitoring, claiming one slot atomically.

    Returns ``(record, created)``: ``created`` is False when the URL was already monitored (no slot
    is claimed twice). Raises ``SlotsExhausted`` when no slot is open, with the counter unchanged.
    """
    existing = get_monitored_by_url(workspace_id, target_url)
    if existing is not None:
        return existing, False
    now = utcnow()
    mon_id = ids.new_id("mon")
    next_scan_at = iso(now + timedelta(seconds=cadence_seconds))
    record = {
        "pk": ws_pk(workspace_id), "sk": f"MON#{mon_id}",
        "gsi1pk": f"{ws_pk(workspace_id)}#MON", "gsi1sk": mon_id,
        **due_index_keys(mon_id, next_scan_at),
        "monitored_url_id": mon_id, "workspace_id": workspace_id, "target_url": target_url,
        "url_hash": url_hash(target_url), "enrolled_at": iso(now), "cadence_seconds": cadence_seconds,
        "last_scan_job_id": first_scan_job_id, "last_scanned_at": None, "next_scan_at": next_scan_at,
        "summary": None,
    }
    name = table().name
    try:
        dynamodb_client().transact_write_items(TransactItems=[
            {"Update": {
                "TableName": name, "Key": serialize({"pk": ws_pk(workspace_id), "sk": "META"}),
                "UpdateExpression": "SET monitor_slots_used = if_not_exists(monitor_slots_used, :zero) + :one",
                "ConditionExpression": ("attribute_exists(pk) AND (attribute_not_exists(monitor_slots_limit) "
                                        "OR attribute_type(monitor_slots_limit, :null) "
                                        "OR monitor_slots_used < monitor_slots_limit)"),
                "ExpressionAttributeValues": serialize({":zero": 0, ":one": 1, ":null": "NULL"}),
            }},
            {"Put": {"TableName": name, "Item": serialize(record), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": name,
                     "Item": serialize({**_monurl_key(workspace_id, target_url), "monitored_url_id": mon_id,
                                   "target_url": target_url}),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise  # a conflict with a concurrent transaction or throttling: retryable, not "no slot"
        # Lost to a concurrent enrollment of the same URL, or no slot left: tell which.
        existing = get_monitored_by_url(workspace_id, target_url)
        if existing is not None:
            return existing, False
        current = slots(workspace_id)
        raise SlotsExhausted(
            f"All {current['limit']} monitoring slots of this workspace are in use; release one "
            "(DELETE /api/v1/monitoring/{id}) or upgrade the plan.") from None
    return plain_item(record), True


def release(workspace_id: str, monitored_url_id: str) -> dict[str, Any]:
    """Stops monitoring and frees the slot, in one transaction. ``NotFound`` when the workspace has
    no such monitored URL. Returns the released record."""
    record = get_monitored(workspace_id, monitored_url_id)
    if record is None:
        raise NotFound("No monitored URL with this id in your workspace.")
    name = table().name
    try:
        dynamodb_client().transact_write_items(TransactItems=[
            {"Delete": {"TableName": name, "Key": serialize({"pk": ws_pk(workspace_id), "sk": f"MON#{monitored_url_id}"}),
                        "ConditionExpression": "attribute_exists(pk)"}},
            {"Delete": {"TableName": name, "Key": serialize(_monurl_key(workspace_id, record["target_url"])),
                        "ConditionExpression": "monitored_url_id = :id",
                        "ExpressionAttributeValues": serialize({":id": monitored_url_id})}},
            {"Update": {"TableName": name, "Key": serialize({"pk": ws_pk(workspace_id), "sk": "META"}),
                        "UpdateExpression": "SET monitor_slots_used = monitor_slots_used - :one",
                        "ConditionExpression": "monitor_slots_used > :zero",
                        "ExpressionAttributeValues": serialize({":zero": 0, ":one": 1})}},
        ])
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise  # a conflict with a concurrent transaction or throttling: retryable, not "no slot"
        raise NotFound("No monitored URL with this id in your workspace.") from None  # released concurrently
    return record
