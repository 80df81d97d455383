"""API keys, MCP tokens and browser sessions, stored by the SHA-256 of the secret.

A credential item is keyed by the hash of its secret, so authenticating is one strongly consistent
GetItem and the secret itself is never stored. API keys and MCP tokens also carry a per-workspace
listing key (GSI1). The number of active API keys per workspace is a counter on the workspace item,
claimed in the same transaction that writes the key, so the limit holds under concurrent creation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from botocore.exceptions import ClientError

from botscope import ids
from botscope.auth import tokens
from botscope.store.entity import Entity
from botscope.store.table import (
    cancellation_codes,
    conditional_update,
    is_conditional_failure,
    is_expired,
    iso,
    now_iso,
    query_all,
    table,
    ttl_after,
    utcnow,
    ws_pk,
)

SESSION_TTL_SECONDS = 7 * 24 * 3600
MAX_ACTIVE_API_KEYS = 25
# last_used_at is a hint for humans ("used 3 minutes ago"), not an access log: refreshing it at
# most once a minute keeps authentication free of a write per request.
LAST_USED_RESOLUTION_SECONDS = 60


class _ListedCredential(Entity):
    """What API keys and MCP tokens share; the secret's hash is the item key and never leaves
    the store."""

    workspace_id: str
    label: str
    prefix: str
    last4: str
    created_at: str
    created_by: str | None = None
    last_used_at: str | None = None
    revoked_at: str | None = None


class ApiKey(_ListedCredential):
    """A ``dxk_`` key of a workspace."""

    api_key_id: str

    @property
    def credential_id(self) -> str:
        return self.api_key_id


class McpToken(_ListedCredential):
    """An ``mcp_`` token of a workspace, accepted only on /mcp."""

    mcp_token_id: str

    @property
    def credential_id(self) -> str:
        return self.mcp_token_id


class Session(Entity):
    """A browser session (the ``botscope_session`` cookie); it expires with the item's TTL."""

    session_id: str
    workspace_id: str
    actor: str
    created_at: str


CredentialT = TypeVar("CredentialT", ApiKey, McpToken, Session)


@dataclass(frozen=True)
class Issued(Generic[CredentialT]):
    """A credential just created and its secret: the only time the secret exists outside the
    caller's hands (the store keeps its SHA-256)."""

    credential: CredentialT
    secret: str


class ApiKeyLimitReached(Exception):
    """The workspace already has ``MAX_ACTIVE_API_KEYS`` active keys."""


class WorkspaceMissing(Exception):
    """A credential was requested for a workspace that does not exist."""


# API keys and MCP tokens share one item shape: keyed by the secret's hash (``<KIND>#<hash>`` /
# ``<KIND>``), listed per workspace on gsi1 (``WS#<ws>#<listing>`` / ``<id>``).


def _listed_credential_item(
    kind: str,
    listing: str,
    id_field: str,
    credential_id: str,
    workspace_id: str,
    label: str,
    issued: tokens.IssuedToken,
    created_by: str | None,
) -> dict[str, Any]:
    return {
        "pk": f"{kind}#{issued.token_hash}",
        "sk": kind,
        "gsi1pk": f"WS#{workspace_id}#{listing}",
        "gsi1sk": credential_id,
        id_field: credential_id,
        "workspace_id": workspace_id,
        "label": label,
        "prefix": issued.prefix,
        "last4": issued.last4,
        "created_at": now_iso(),
        "created_by": created_by,
        "last_used_at": None,
        "revoked_at": None,
    }


def _find_listed_credential(workspace_id: str, listing: str, credential_id: str) -> dict[str, Any] | None:
    """The workspace's credential with this id (through gsi1, so only this workspace's ones)."""
    page = table().query(
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk AND gsi1sk = :id",
        ExpressionAttributeValues={":pk": f"WS#{workspace_id}#{listing}", ":id": credential_id},
    )
    found = page.get("Items", [])
    return found[0] if found else None


def _secret_key(kind: str, token: str) -> dict[str, str]:
    return {"pk": f"{kind}#{tokens.hash_token(token)}", "sk": kind}


def _get_by_secret(kind: str, token: str) -> dict[str, Any] | None:
    """The stored credential item of a presented secret (strongly consistent: a just-revoked or
    just-created credential is seen as such)."""
    item: dict[str, Any] | None = (
        table().get_item(Key=_secret_key(kind, token), ConsistentRead=True).get("Item")
    )
    return item


# --- API keys -------------------------------------------------------------------------------------


def create_api_key(workspace_id: str, label: str, *, created_by: str | None = None) -> Issued[ApiKey]:
    """Stores a new key and returns it with its secret (shown once).

    Raises ``ApiKeyLimitReached`` when the workspace has ``MAX_ACTIVE_API_KEYS`` active keys and
    ``WorkspaceMissing`` when the workspace does not exist.
    """
    issued = tokens.issue("dxk")
    key_id = ids.new_id("key")
    item = _listed_credential_item(
        "APIKEY", "KEYS", "api_key_id", key_id, workspace_id, label, issued, created_by
    )
    client = table().meta.client
    try:
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table().name,
                        "Key": {"pk": ws_pk(workspace_id), "sk": "META"},
                        "UpdateExpression": "SET api_keys_active = if_not_exists(api_keys_active, :zero) + :one",
                        "ConditionExpression": "attribute_exists(pk) AND "
                        "(attribute_not_exists(api_keys_active) OR api_keys_active < :max)",
                        "ExpressionAttributeValues": {":zero": 0, ":one": 1, ":max": MAX_ACTIVE_API_KEYS},
                    }
                },
                {
                    "Put": {
                        "TableName": table().name,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        if cancellation_codes(exc)[:1] == ["ConditionalCheckFailed"]:
            if table().get_item(Key={"pk": ws_pk(workspace_id), "sk": "META"}).get("Item") is None:
                raise WorkspaceMissing(workspace_id) from exc
            raise ApiKeyLimitReached(workspace_id) from exc
        raise
    return Issued(ApiKey.from_item(item), issued.token)


def get_api_key_by_token(token: str) -> ApiKey | None:
    item = _get_by_secret("APIKEY", token)
    return ApiKey.from_item(item) if item else None


def list_api_keys(workspace_id: str, *, include_revoked: bool = False) -> list[ApiKey]:
    """The workspace's keys, newest first."""
    items = query_all(
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": f"WS#{workspace_id}#KEYS"},
        ScanIndexForward=False,
    )
    keys = [ApiKey.from_item(i) for i in items]
    return [key for key in keys if include_revoked or not key.revoked_at]


def revoke_api_key(workspace_id: str, api_key_id: str) -> ApiKey | None:
    """Marks the key revoked and frees its slot. ``None`` when the workspace has no such active key
    (another workspace's key id is indistinguishable from an unknown one)."""
    found = _find_listed_credential(workspace_id, "KEYS", api_key_id)
    if found is None or found.get("revoked_at"):
        return None
    revoked_at = now_iso()
    try:
        table().meta.client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table().name,
                        "Key": {"pk": found["pk"], "sk": "APIKEY"},
                        "UpdateExpression": "SET revoked_at = :now",
                        # The GSI read is eventually consistent: re-check ownership and state on the item itself.
                        "ConditionExpression": "workspace_id = :ws AND (attribute_not_exists(revoked_at) OR "
                        "attribute_type(revoked_at, :null_type))",
                        "ExpressionAttributeValues": {
                            ":now": revoked_at,
                            ":ws": workspace_id,
                            ":null_type": "NULL",
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": table().name,
                        "Key": {"pk": ws_pk(workspace_id), "sk": "META"},
                        "UpdateExpression": "SET api_keys_active = api_keys_active - :one",
                        "ConditionExpression": "api_keys_active > :zero",
                        "ExpressionAttributeValues": {":one": 1, ":zero": 0},
                    }
                },
            ]
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        codes = cancellation_codes(exc)
        if codes[:1] == ["ConditionalCheckFailed"]:
            return None  # revoked concurrently
        # The counter was missing (a key written before counting existed): revoke anyway.
        table().update_item(
            Key={"pk": found["pk"], "sk": "APIKEY"},
            UpdateExpression="SET revoked_at = :now",
            ConditionExpression="workspace_id = :ws",
            ExpressionAttributeValues={":now": revoked_at, ":ws": workspace_id},
        )
    return ApiKey.from_item(found).model_copy(update={"revoked_at": revoked_at})


def touch_last_used(credential: ApiKey | McpToken, token: str) -> bool:
    """Refreshes ``last_used_at`` of a key or token just read for authentication with ``token``
    when it is older than a minute. Returns whether it wrote.

    The stored record was just read to authenticate, so the common case costs nothing; the
    conditional update keeps concurrent requests from writing more than once per minute.
    """
    now = utcnow()
    cutoff = iso(now - timedelta(seconds=LAST_USED_RESOLUTION_SECONDS))
    if credential.last_used_at is not None and credential.last_used_at >= cutoff:
        return False
    kind = "APIKEY" if isinstance(credential, ApiKey) else "MCPTOKEN"
    return conditional_update(
        Key=_secret_key(kind, token),
        UpdateExpression="SET last_used_at = :now",
        ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR "
        "attribute_type(last_used_at, :null_type) OR last_used_at < :cutoff)",
        ExpressionAttributeValues={":now": iso(now), ":cutoff": cutoff, ":null_type": "NULL"},
    )


# --- MCP tokens -----------------------------------------------------------------------------------


def create_mcp_token(workspace_id: str, label: str, *, created_by: str | None = None) -> Issued[McpToken]:
    """An ``mcp_`` token, accepted only on /mcp, with its secret (shown once)."""
    issued = tokens.issue("mcp")
    token_id = ids.new_id("mcpt")
    item = _listed_credential_item(
        "MCPTOKEN", "MCPTOKENS", "mcp_token_id", token_id, workspace_id, label, issued, created_by
    )
    table().put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    return Issued(McpToken.from_item(item), issued.token)


def get_mcp_token_by_token(token: str) -> McpToken | None:
    item = _get_by_secret("MCPTOKEN", token)
    return McpToken.from_item(item) if item else None


# --- browser sessions -----------------------------------------------------------------------------


def create_session(
    workspace_id: str, actor: str, *, ttl_seconds: int = SESSION_TTL_SECONDS
) -> Issued[Session]:
    """A session and its ``botscope_session`` cookie value, valid for ``ttl_seconds``."""
    if ttl_seconds <= 0:
        raise ValueError("a session needs a positive lifetime")
    issued = tokens.issue("bss")
    session_id = ids.new_id("ses")
    item = {
        "pk": f"SESSION#{issued.token_hash}",
        "sk": "SESSION",
        "session_id": session_id,
        "workspace_id": workspace_id,
        "actor": actor,
        "created_at": now_iso(),
        "expires_at": ttl_after(ttl_seconds),
    }
    table().put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    return Issued(Session.from_item(item), issued.token)


def get_session_by_token(token: str) -> Session | None:
    """The live session of a cookie value, or ``None`` (also past its lifetime: DynamoDB's TTL
    deletes lazily, so an expired item may still be read)."""
    item = _get_by_secret("SESSION", token)
    if item is None or is_expired(item):
        return None
    return Session.from_item(item)


def delete_session(token: str) -> None:
    """Logout: the cookie stops working on the next request."""
    table().delete_item(Key=_secret_key("SESSION", token))
