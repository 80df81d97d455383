"""Workspaces: plan, standing and monitoring slot counters."""

from __future__ import annotations

from typing import Any

from botscope import ids
from botscope.store.table import now_iso, strip_keys, table, ws_pk

# Default monitored-URL slots and rescan cadence per plan (docs/api.md "Authentication and plans").
PLAN_DEFAULTS: dict[str, dict[str, Any]] = {
    "starter": {"monitor_slots_limit": 0, "monitor_cadence_seconds": 86400},
    "growth": {"monitor_slots_limit": 5, "monitor_cadence_seconds": 86400},
    "enterprise": {"monitor_slots_limit": None, "monitor_cadence_seconds": 3600},
}


def create_workspace(
    name: str,
    plan: str,
    *,
    workspace_id: str | None = None,
    status: str = "active",
    monitor_slots_limit: int | None | str = "default",
) -> dict[str, Any]:
    defaults = PLAN_DEFAULTS[plan]
    item = {
        "pk": ws_pk(workspace_id or ids.new_id("ws")),
        "sk": "META",
        "name": name,
        "plan": plan,
        "status": status,
        "monitor_slots_limit": defaults["monitor_slots_limit"]
        if monitor_slots_limit == "default"
        else monitor_slots_limit,
        "monitor_slots_used": 0,
        "monitor_cadence_seconds": defaults["monitor_cadence_seconds"],
        "created_at": now_iso(),
    }
    item["workspace_id"] = item["pk"].removeprefix("WS#")
    table().put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    return strip_keys(item)


def get_workspace(workspace_id: str) -> dict[str, Any] | None:
    item = table().get_item(Key={"pk": ws_pk(workspace_id), "sk": "META"}, ConsistentRead=True).get("Item")
    return strip_keys(item) if item else None


def set_workspace_status(workspace_id: str, status: str) -> None:
    table().update_item(
        Key={"pk": ws_pk(workspace_id), "sk": "META"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": status},
        ConditionExpression="attribute_exists(pk)",
    )
