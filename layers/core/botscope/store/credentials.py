"""API keys, MCP tokens and browser sessions, stored by the SHA-256 of the secret."""

from __future__ import annotations

from typing import Any

from botscope import ids
from botscope.auth import tokens
from botscope.store.table import now_iso, strip_keys, table, ttl_after

SESSION_TTL_SECONDS = 7 * 24 * 3600


def create_api_key(workspace_id: str, label: str, *, created_by: str | None = None) -> dict[str, Any]:
    """Returns the stored record plus ``key`` (the full secret, shown once)."""
    issued = tokens.issue("dxk")
    key_id = ids.new_id("key")
    item = {
        "pk": f"APIKEY#{issued.token_hash}", "sk": "APIKEY",
        "gsi1pk": f"WS#{workspace_id}#KEYS", "gsi1sk": key_id,
        "api_key_id": key_id, "workspace_id": workspace_id, "label": label,
        "prefix": issued.prefix, "last4": issued.last4, "created_at": now_iso(),
        "created_by": created_by, "last_used_at": None, "revoked_at": None,
    }
    table().put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    return {**strip_keys(item), "key": issued.token}


def get_api_key_by_token(token: str) -> dict[str, Any] | None:
    item = table().get_item(Key={"pk": f"APIKEY#{tokens.hash_token(token)}", "sk": "APIKEY"},
                            ConsistentRead=True).get("Item")
    return item


def create_session(workspace_id: str, actor: str, *, ttl_seconds: int = SESSION_TTL_SECONDS) -> dict[str, Any]:
    issued = tokens.issue("bss")
    session_id = ids.new_id("ses")
    item = {
        "pk": f"SESSION#{issued.token_hash}", "sk": "SESSION", "session_id": session_id,
        "workspace_id": workspace_id, "actor": actor, "created_at": now_iso(),
        "expires_at": ttl_after(ttl_seconds),
    }
    table().put_item(Item=item)
    return {**strip_keys(item), "token": issued.token, "expires_at": item["expires_at"]}


def get_session_by_token(token: str) -> dict[str, Any] | None:
    return table().get_item(Key={"pk": f"SESSION#{tokens.hash_token(token)}", "sk": "SESSION"},
                            ConsistentRead=True).get("Item")
