"""Who is calling: the credential checks shared by the HTTP API (``botscope.api.deps``) and the MCP
endpoint (``botscope.mcp.server``).

Accepted credentials (docs/api.md "Authentication"): ``Authorization: Bearer dxk_…`` and the
``botscope_session`` cookie (unsafe methods must then carry an allowed ``Origin``). ``Bearer mcp_…``
tokens belong to ``/mcp`` only. A malformed key is rejected by its shape and checksum before any
table read.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import HTTPConnection

from botscope.auth import tokens
from botscope.auth.principal import ActorType, Principal
from botscope.config import get_settings
from botscope.errors import Forbidden, Unauthorized
from botscope.store import credentials, workspaces

SESSION_COOKIE = "botscope_session"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def bearer_token(request: HTTPConnection) -> str | None:
    """The Bearer token of the Authorization header, ``None`` without one; 401 for another scheme."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Use 'Authorization: Bearer <key>'.")
    return value.strip()


def _request_id(request: HTTPConnection) -> str | None:
    return getattr(request.state, "request_id", None)


def _principal_for_workspace(
    workspace_id: str,
    actor_type: ActorType,
    actor_id: str,
    request: HTTPConnection,
    scopes: frozenset[str] = frozenset(),
) -> Principal:
    workspace = workspaces.get_workspace(workspace_id)
    if workspace is None:
        raise Unauthorized("The credential's workspace no longer exists.")
    return Principal(
        workspace_id=workspace_id,
        plan=workspace.plan,
        workspace_status=workspace.status,
        actor_type=actor_type,
        actor_id=actor_id,
        scopes=scopes,
        request_id=_request_id(request),
        source_ip=request.client.host if request.client else None,
    )


def _authenticate_secret(
    token: str,
    request: HTTPConnection,
    *,
    prefix: str,
    noun: str,
    lookup: Callable[[str], credentials.ApiKey | credentials.McpToken | None],
    actor_type: ActorType,
    scopes: frozenset[str],
) -> Principal:
    """API keys and MCP tokens: shape and checksum first (no table read for junk), then the stored
    record by the secret's hash; refreshes ``last_used_at`` (at most once a minute)."""
    if not tokens.is_well_formed(token, prefix):
        raise Unauthorized(f"The {noun} is malformed.")
    credential = lookup(token)
    if credential is None or credential.revoked_at:
        raise Unauthorized(f"The {noun} is unknown or revoked.")
    principal = _principal_for_workspace(
        credential.workspace_id, actor_type, credential.credential_id, request, scopes
    )
    credentials.touch_last_used(credential, token)
    return principal


def authenticate_api_key(token: str, request: HTTPConnection) -> Principal:
    return _authenticate_secret(
        token,
        request,
        prefix="dxk",
        noun="API key",
        lookup=credentials.get_api_key_by_token,
        actor_type="api_key",
        scopes=frozenset({"api", "mcp"}),
    )


def authenticate_mcp_token(token: str, request: HTTPConnection) -> Principal:
    return _authenticate_secret(
        token,
        request,
        prefix="mcp",
        noun="MCP token",
        lookup=credentials.get_mcp_token_by_token,
        actor_type="mcp_token",
        scopes=frozenset({"mcp"}),
    )


def authenticate_bearer(token: str, request: HTTPConnection, *, allow_mcp_tokens: bool = False) -> Principal:
    """``dxk_`` keys everywhere; ``mcp_`` tokens only where ``allow_mcp_tokens`` (the /mcp endpoint)."""
    if token.startswith("mcp_"):
        principal = authenticate_mcp_token(token, request)
        if not allow_mcp_tokens:
            raise Forbidden(
                "MCP tokens are accepted only on /mcp; use a dxk_ API key for the HTTP API.",
                code="insufficient_scope",
            )
        return principal
    return authenticate_api_key(token, request)


def authenticate_session(token: str, request: HTTPConnection) -> Principal:
    if not tokens.is_well_formed(token, "bss"):
        raise Unauthorized("The session is malformed.")
    session = credentials.get_session_by_token(token)
    if session is None:
        raise Unauthorized("The session is unknown or expired.")
    method = request.scope.get("method", "GET")
    if method in UNSAFE_METHODS:
        origin = (request.headers.get("origin") or "").rstrip("/")
        if origin not in get_settings().allowed_origin_list:
            raise Forbidden("Cookie-authenticated requests must come from an allowed Origin.", code="csrf")
    return _principal_for_workspace(
        session.workspace_id, "session", session.session_id, request, frozenset({"api", "session"})
    )
