"""Request dependencies: authentication of the caller and the CSRF Origin check.

Accepted credentials (API.md): ``Authorization: Bearer dxk_…`` and the ``botscope_session``
cookie (unsafe methods must then carry an allowed ``Origin``). A malformed key is rejected by its
shape and checksum before any table read.
"""

from __future__ import annotations

from fastapi import Request

from botscope.auth import tokens
from botscope.auth.principal import Principal
from botscope.config import get_settings
from botscope.errors import Forbidden, Unauthorized
from botscope.store import credentials, workspaces
from botscope.store.table import is_expired

SESSION_COOKIE = "botscope_session"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Use 'Authorization: Bearer <key>'.")
    return value.strip()


def _principal_for_workspace(workspace_id: str, actor_type: str, actor_id: str, request: Request,
                             scopes: frozenset[str] = frozenset()) -> Principal:
    workspace = workspaces.get_workspace(workspace_id)
    if workspace is None:
        raise Unauthorized("The credential's workspace no longer exists.")
    return Principal(workspace_id=workspace_id, plan=workspace["plan"], workspace_status=workspace["status"],
                     actor_type=actor_type,  # type: ignore[arg-type]
                     actor_id=actor_id, scopes=scopes,
                     request_id=getattr(request.state, "request_id", None),
                     source_ip=request.client.host if request.client else None)


def authenticate_api_key(token: str, request: Request) -> Principal:
    if not tokens.is_well_formed(token, "dxk"):
        raise Unauthorized("The API key is malformed.")
    record = credentials.get_api_key_by_token(token)
    if record is None or record.get("revoked_at"):
        raise Unauthorized("The API key is unknown or revoked.")
    return _principal_for_workspace(record["workspace_id"], "api_key", record["api_key_id"], request,
                                    frozenset({"api"}))


def authenticate_session(token: str, request: Request) -> Principal:
    if not tokens.is_well_formed(token, "bss"):
        raise Unauthorized("The session is malformed.")
    record = credentials.get_session_by_token(token)
    if record is None or is_expired(record):
        raise Unauthorized("The session is unknown or expired.")
    if request.method in UNSAFE_METHODS:
        origin = (request.headers.get("origin") or "").rstrip("/")
        if origin not in get_settings().allowed_origin_list:
            raise Forbidden("Cookie-authenticated requests must come from an allowed Origin.", code="csrf")
    return _principal_for_workspace(record["workspace_id"], "session", record["session_id"], request,
                                    frozenset({"api", "session"}))


def get_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller, or 401."""
    token = _bearer(request)
    if token is not None:
        principal = authenticate_api_key(token, request)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise Unauthorized("Authenticate with 'Authorization: Bearer dxk_…' or a session cookie.")
        principal = authenticate_session(cookie, request)
    request.state.principal = principal
    return principal
