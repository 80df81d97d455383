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

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from botscope import ids
from botscope.errors import NotFound, SlotsExhausted
from botscope.store.table import (
    due_shard,
    dynamodb_client,
    is_conditional_failure,
    iso,
    plain_item,
    query_all,
    serialize,
    table,
    url_hash,
    utcnow,
    ws_pk,
)


def _monurl_key(workspace_id: str, target_url: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": f"MONURL#{url_hash(target_url)}"}


def due_index_keys(monitored_url_id: str, next_scan_at: str) -> dict[str, str]:
    return {
        "gsi2pk": f"DUE#{due_shard(monitored_url_id):02d}",
        "gsi2sk": f"{next_scan_at}#{monitored_url_id}",
    }


def get_monitored(workspace_id: str, monitored_url_id: str) -> dict[str, Any] | None:
    item = (
        table()
        .get_item(Key={"pk": ws_pk(workspace_id), "sk": f"MON#{monitored_url_id}"}, ConsistentRead=True)
        .get("Item")
    )
    return plain_item(item) if item else None


def get_monitored_by_url(workspace_id: str, target_url: str) -> dict[str, Any] | None:
    """The monitored URL record for a normalized URL, or None."""
    marker = table().get_item(Key=_monurl_key(workspace_id, target_url), ConsistentRead=True).get("Item")
    if marker is None:
        return None
    return get_monitored(workspace_id, str(marker["monitored_url_id"]))


def list_monitored(workspace_id: str) -> list[dict[str, Any]]:
    """All monitored URLs of a workspace, newest enrollment first."""
    items = query_all(
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": f"{ws_pk(workspace_id)}#MON"},
        ScanIndexForward=False,
    )
    return [plain_item(i) for i in items]


def slots(workspace_id: str) -> dict[str, int | None]:
    ws = (
        table().get_item(Key={"pk": ws_pk(workspace_id), "sk": "META"}, ConsistentRead=True).get("Item") or {}
    )
    limit = ws.get("monitor_slots_limit")
    return {"used": int(ws.get("monitor_slots_used") or 0), "limit": None if limit is None else int(limit)}


def enroll(
    workspace_id: str, target_url: str, *, cadence_seconds: int, first_scan_job_id: str | None = None
) -> tuple[dict[str, Any], bool]:
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
        "pk": ws_pk(workspace_id),
        "sk": f"MON#{mon_id}",
        "gsi1pk": f"{ws_pk(workspace_id)}#MON",
        "gsi1sk": mon_id,
        **due_index_keys(mon_id, next_scan_at),
        "monitored_url_id": mon_id,
        "workspace_id": workspace_id,
        "target_url": target_url,
        "url_hash": url_hash(target_url),
        "enrolled_at": iso(now),
        "cadence_seconds": cadence_seconds,
        "last_scan_job_id": first_scan_job_id,
        "last_scanned_at": None,
        "next_scan_at": next_scan_at,
        "summary": None,
    }
    name = table().name
    try:
        dynamodb_client().transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": name,
                        "Key": serialize({"pk": ws_pk(workspace_id), "sk": "META"}),
                        "UpdateExpression": "SET monitor_slots_used = if_not_exists(monitor_slots_used, :zero) + :one",
                        "ConditionExpression": (
                            "attribute_exists(pk) AND (attribute_not_exists(monitor_slots_limit) "
                            "OR attribute_type(monitor_slots_limit, :null) "
                            "OR monitor_slots_used < monitor_slots_limit)"
                        ),
                        "ExpressionAttributeValues": serialize({":zero": 0, ":one": 1, ":null": "NULL"}),
                    }
                },
                {
                    "Put": {
                        "TableName": name,
                        "Item": serialize(record),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": name,
                        "Item": serialize(
                            {
                                **_monurl_key(workspace_id, target_url),
                                "monitored_url_id": mon_id,
                                "target_url": target_url,
                            }
                        ),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
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
            "(DELETE /api/v1/monitoring/{id}) or upgrade the plan."
        ) from None
    return plain_item(record), True


def release(workspace_id: str, monitored_url_id: str) -> dict[str, Any]:
    """Stops monitoring and frees the slot, in one transaction. ``NotFound`` when the workspace has
    no such monitored URL. Returns the released record."""
    record = get_monitored(workspace_id, monitored_url_id)
    if record is None:
        raise NotFound("No monitored URL with this id in your workspace.")
    name = table().name
    try:
        dynamodb_client().transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": name,
                        "Key": serialize({"pk": ws_pk(workspace_id), "sk": f"MON#{monitored_url_id}"}),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {
                    "Delete": {
                        "TableName": name,
                        "Key": serialize(_monurl_key(workspace_id, record["target_url"])),
                        "ConditionExpression": "monitored_url_id = :id",
                        "ExpressionAttributeValues": serialize({":id": monitored_url_id}),
                    }
                },
                {
                    "Update": {
                        "TableName": name,
                        "Key": serialize({"pk": ws_pk(workspace_id), "sk": "META"}),
                        "UpdateExpression": "SET monitor_slots_used = monitor_slots_used - :one",
                        "ConditionExpression": "monitor_slots_used > :zero",
                        "ExpressionAttributeValues": serialize({":zero": 0, ":one": 1}),
                    }
                },
            ]
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise  # a conflict with a concurrent transaction or throttling: retryable, not "no slot"
        raise NotFound("No monitored URL with this id in your workspace.") from None  # released concurrently
    return record


# --- the monitored URL as a resource: pause, scan mode, manual rescans, change history ------------

SCAN_MODES = ("full", "quick")
# A change-history entry is kept this long after it was recorded (TTL).
CHANGE_HISTORY_TTL_SECONDS = 400 * 86400


def _mon_key(workspace_id: str, monitored_url_id: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": f"MON#{monitored_url_id}"}


def update_settings(
    workspace_id: str, monitored_url_id: str, *, paused: bool | None = None, scan_mode: str | None = None
) -> dict[str, Any]:
    """Sets ``paused`` and/or ``scan_mode``. A paused URL leaves the due index (the scheduler never
    reads it; its claim also refuses a paused item, for a scheduler that read it just before);
    resuming puts it back, due at its stored next scan time or now, whichever is later.
    ``NotFound`` when the workspace has no such monitored URL. Returns the updated record."""
    record = get_monitored(workspace_id, monitored_url_id)
    if record is None:
        raise NotFound("No monitored URL with this id in your workspace.")
    sets: list[str] = []
    removes: list[str] = []
    values: dict[str, Any] = {}
    if scan_mode is not None:
        sets.append("scan_mode = :mode")
        values[":mode"] = scan_mode
    if paused is True:
        sets.append("paused = :true")
        values[":true"] = True
        removes += ["gsi2pk", "gsi2sk"]
    elif paused is False:
        now = iso(utcnow())
        next_scan_at = max(str(record.get("next_scan_at") or now), now)
        keys = due_index_keys(monitored_url_id, next_scan_at)
        sets += ["paused = :false", "next_scan_at = :next", "gsi2pk = :dpk", "gsi2sk = :dsk"]
        values.update(
            {":false": False, ":next": next_scan_at, ":dpk": keys["gsi2pk"], ":dsk": keys["gsi2sk"]}
        )
    if not sets:
        return record
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    try:
        response = table().update_item(
            Key=_mon_key(workspace_id, monitored_url_id),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            raise NotFound("No monitored URL with this id in your workspace.") from None
        raise
    return plain_item(response["Attributes"])


def claim_manual_rescan(workspace_id: str, monitored_url_id: str, *, min_interval_seconds: int) -> int | None:
    """Takes the URL's manual-rescan allowance: at most one per ``min_interval_seconds``. Returns None
    when taken, or the seconds until the next one is allowed."""
    now = utcnow()
    try:
        table().update_item(
            Key=_mon_key(workspace_id, monitored_url_id),
            UpdateExpression="SET last_manual_rescan_at = :now",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(last_manual_rescan_at)"
            " OR last_manual_rescan_at <= :cutoff)",
            ExpressionAttributeValues={
                ":now": iso(now),
                ":cutoff": iso(now - timedelta(seconds=min_interval_seconds)),
            },
        )
        return None
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
    record = get_monitored(workspace_id, monitored_url_id)
    if record is None:
        raise NotFound("No monitored URL with this id in your workspace.")
    last = datetime.fromisoformat(str(record["last_manual_rescan_at"]).replace("Z", "+00:00"))
    return max(1, int(min_interval_seconds - (now - last).total_seconds()) + 1)


def release_manual_rescan(workspace_id: str, monitored_url_id: str) -> None:
    """Gives the allowance back when the rescan did not start (nothing was scanned)."""
    try:
        table().update_item(
            Key=_mon_key(workspace_id, monitored_url_id),
            UpdateExpression="REMOVE last_manual_rescan_at",
            ConditionExpression="attribute_exists(pk)",
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise


def force_due(workspace_id: str, monitored_url_id: str) -> dict[str, Any]:
    """Makes the URL due now (the local developer loop's forced rescan); a paused URL stays paused."""
    now = iso(utcnow())
    keys = due_index_keys(monitored_url_id, now)
    update = "SET next_scan_at = :now, gsi2pk = :dpk, gsi2sk = :dsk"
    values: dict[str, Any] = {":now": now, ":dpk": keys["gsi2pk"], ":dsk": keys["gsi2sk"], ":true": True}
    try:
        response = table().update_item(
            Key=_mon_key(workspace_id, monitored_url_id),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(paused) OR paused <> :true)",
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            raise NotFound("No active (unpaused) monitored URL with this id.") from None
        raise
    return plain_item(response["Attributes"])


def _change_key(workspace_id: str, monitored_url_id: str, scan_job_id: str) -> dict[str, str]:
    return {"pk": ws_pk(workspace_id), "sk": f"MONCHG#{monitored_url_id}#{scan_job_id}"}


def record_change(workspace_id: str, monitored_url_id: str, scan_job_id: str, entry: dict[str, Any]) -> None:
    """Keeps one ``monitoring.findings_changed`` event's data in the URL's change history. Keyed by
    the scan that found the change, so a retried publish writes the same entry again."""
    from botscope.store.table import to_dynamo, ttl_after

    table().put_item(
        Item={
            **_change_key(workspace_id, monitored_url_id, scan_job_id),
            "entry": to_dynamo(entry),
            "expires_at": ttl_after(CHANGE_HISTORY_TTL_SECONDS),
        }
    )


def list_changes(
    workspace_id: str, monitored_url_id: str, *, limit: int, starting_after: str | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """Newest first; ``starting_after`` is the ``scan_job_id`` of the last entry of the previous page.
    Returns ``(entries, has_more)``."""
    prefix = f"MONCHG#{monitored_url_id}#"
    values: dict[str, Any] = {":pk": ws_pk(workspace_id), ":low": prefix}
    if starting_after:
        # BETWEEN is inclusive: the previous page's last entry is read again and dropped.
        values[":high"] = f"{prefix}{starting_after}"
    else:
        values[":high"] = prefix + "\uffff"
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
        "Limit": limit + 2,
        "ConsistentRead": True,
    }
    while True:
        page = table().query(**kwargs)
        items.extend(i for i in page.get("Items", []) if i["sk"] != values[":high"])
        if len(items) > limit or "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [plain_item(i)["entry"] for i in items[:limit]], len(items) > limit
