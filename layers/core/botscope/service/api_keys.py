"""API key lifecycle, shared by the HTTP routes and the MCP ``create_api_key`` tool."""

from __future__ import annotations

from typing import Any

from botscope import audit, ids
from botscope.auth.principal import Principal
from botscope.errors import Conflict, Forbidden, NotFound, ValidationFailed
from botscope.store import credentials

LABEL_MAX_CHARS = 64


def validate_label(label: Any) -> str:
    """1–64 printable characters once surrounding whitespace is trimmed."""
    if not isinstance(label, str):
        raise ValidationFailed(
            "The label must be a string.", errors=[{"field": "label", "message": "must be a string"}]
        )
    trimmed = label.strip()
    problem = None
    if not trimmed:
        problem = "must not be empty"
    elif len(trimmed) > LABEL_MAX_CHARS:
        problem = f"must be at most {LABEL_MAX_CHARS} characters"
    elif not trimmed.isprintable():
        problem = "must contain only printable characters"
    if problem:
        raise ValidationFailed(f"The label {problem}.", errors=[{"field": "label", "message": problem}])
    return trimmed


def create_api_key(principal: Principal, label: Any) -> dict[str, Any]:
    """A new key for the caller's workspace; the returned ``key`` is the only time the secret is shown.

    Only a credential with the ``api`` scope (an API key or a browser session) may mint one: an
    ``mcp_`` token is confined to /mcp, and a key it minted would reach the whole HTTP API and
    outlive the token's revocation."""
    if "api" not in principal.scopes:
        raise Forbidden(
            "An MCP token cannot create API keys; use a dxk_ API key or the dashboard.",
            code="insufficient_scope",
        )
    clean_label = validate_label(label)
    try:
        created = credentials.create_api_key(principal.workspace_id, clean_label, created_by=principal.actor)
    except credentials.ApiKeyLimitReached as exc:
        raise Conflict(
            f"A workspace can have at most {credentials.MAX_ACTIVE_API_KEYS} active API keys; "
            "revoke one first.",
            code="api_key_limit_reached",
        ) from exc
    key = created.credential
    audit.record(principal, "key.created", key.api_key_id, {"label": clean_label})
    return {
        "api_key_id": key.api_key_id,
        "key": created.secret,
        "label": key.label,
        "prefix": key.prefix,
        "last4": key.last4,
        "created_at": key.created_at,
    }


def _listed_key_view(key: credentials.ApiKey) -> dict[str, Any]:
    """A key as the listing shows it: never the secret nor its hash."""
    return {
        "api_key_id": key.api_key_id,
        "label": key.label,
        "prefix": key.prefix,
        "last4": key.last4,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
    }


def list_api_keys(principal: Principal) -> dict[str, Any]:
    keys = credentials.list_api_keys(principal.workspace_id)
    return {"data": [_listed_key_view(key) for key in keys], "has_more": False}


def revoke_api_key(principal: Principal, api_key_id: str) -> None:
    """Revokes at once: the key's next request is 401. Unknown, revoked, foreign or malformed ids are
    404 (a malformed one never reaches the table: DynamoDB refuses oversized keys with an error)."""
    if (
        not ids.is_id(api_key_id, "key")
        or credentials.revoke_api_key(principal.workspace_id, api_key_id) is None
    ):
        raise NotFound("No active API key with this id in your workspace.")
    audit.record(principal, "key.revoked", api_key_id)
