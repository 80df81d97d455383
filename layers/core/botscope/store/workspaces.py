"""Workspaces: plan, standing and the counters claimed with their credentials, webhooks and
monitored URLs (docs/data-model.md)."""

from __future__ import annotations

from typing import Literal, TypedDict

from botscope import ids
from botscope.auth.principal import Plan, WorkspaceStatus
from botscope.store.entity import Entity
from botscope.store.table import now_iso, table, ws_pk


class PlanDefaults(TypedDict):
    monitor_slots_limit: int | None
    monitor_cadence_seconds: int


# Default monitored-URL slots and rescan cadence per plan (docs/api.md "Authentication and plans").
PLAN_DEFAULTS: dict[Plan, PlanDefaults] = {
    "starter": {"monitor_slots_limit": 0, "monitor_cadence_seconds": 86400},
    "growth": {"monitor_slots_limit": 5, "monitor_cadence_seconds": 86400},
    "enterprise": {"monitor_slots_limit": None, "monitor_cadence_seconds": 3600},
}


class Workspace(Entity):
    """A customer workspace. ``monitor_slots_limit`` ``None`` is unlimited; the counters are
    claimed in the transactions that create API keys (``store.credentials``), webhook endpoints
    (``store.webhooks``) and monitored URLs (``store.monitoring``)."""

    workspace_id: str
    name: str
    plan: Plan
    status: WorkspaceStatus
    monitor_slots_limit: int | None
    monitor_slots_used: int = 0
    monitor_cadence_seconds: int
    created_at: str
    api_keys_active: int = 0
    webhook_count: int = 0


def create_workspace(
    name: str,
    plan: Plan,
    *,
    workspace_id: str | None = None,
    status: WorkspaceStatus = "active",
    monitor_slots_limit: int | None | Literal["plan default"] = "plan default",
) -> Workspace:
    defaults = PLAN_DEFAULTS[plan]
    new_id = workspace_id or ids.new_id("ws")
    item = {
        "pk": ws_pk(new_id),
        "sk": "META",
        "workspace_id": new_id,
        "name": name,
        "plan": plan,
        "status": status,
        "monitor_slots_limit": defaults["monitor_slots_limit"]
        if monitor_slots_limit == "plan default"
        else monitor_slots_limit,
        "monitor_slots_used": 0,
        "monitor_cadence_seconds": defaults["monitor_cadence_seconds"],
        "created_at": now_iso(),
    }
    table().put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    return Workspace.from_item(item)


def get_workspace(workspace_id: str) -> Workspace | None:
    item = table().get_item(Key={"pk": ws_pk(workspace_id), "sk": "META"}, ConsistentRead=True).get("Item")
    return Workspace.from_item(item) if item else None


def set_workspace_status(workspace_id: str, status: WorkspaceStatus) -> None:
    table().update_item(
        Key={"pk": ws_pk(workspace_id), "sk": "META"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": status},
        ConditionExpression="attribute_exists(pk)",
    )
