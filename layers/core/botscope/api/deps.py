"""Request dependencies: authentication of the caller (``botscope.auth.authenticate``), the request
rate and the body-size limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Response

from botscope import ratelimit
from botscope.auth.authenticate import (
    SESSION_COOKIE,
    UNSAFE_METHODS,
    authenticate_api_key,
    authenticate_bearer,
    authenticate_mcp_token,
    authenticate_session,
    bearer_token,
)
from botscope.auth.principal import Principal
from botscope.errors import PayloadTooLarge, Unauthorized
from botscope.numbers import ascii_int

__all__ = [
    "SESSION_COOKIE",
    "UNSAFE_METHODS",
    "authenticate_api_key",
    "authenticate_bearer",
    "authenticate_mcp_token",
    "authenticate_session",
    "bearer_token",
    "body_size_limit",
    "get_principal",
]


def get_principal(request: Request, response: Response = None) -> Principal:  # type: ignore[assignment]
    """FastAPI dependency: the authenticated caller, or 401; then the credential's request rate (429).

    ``response`` is injected by FastAPI so the ``RateLimit`` headers reach successful responses too.
    """
    token = bearer_token(request)
    if token is not None:
        principal = authenticate_bearer(token, request)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise Unauthorized("Authenticate with 'Authorization: Bearer dxk_…' or a session cookie.")
        principal = authenticate_session(cookie, request)
    request.state.principal = principal
    state = ratelimit.check_request_rate(principal)
    if state is not None and response is not None:
        response.headers.update(state.headers())
    return principal


def body_size_limit(max_bytes: int) -> Callable[..., Awaitable[None]]:
    """A route dependency answering 413 ``payload_too_large`` for a body over ``max_bytes`` (the
    declared length is checked first, then the bytes actually sent). It depends on the caller's
    credential, so an unauthenticated caller gets 401 whatever the body (FastAPI caches the
    principal: the credential is still checked once per request)."""

    async def limit_body_size(
        request: Request, _principal: Annotated[Principal, Depends(get_principal)]
    ) -> None:
        declared = request.headers.get("content-length")
        declared_bytes = ascii_int(declared, max_digits=19) if declared else None
        if (declared_bytes is not None and declared_bytes > max_bytes) or len(
            await request.body()
        ) > max_bytes:
            raise PayloadTooLarge(f"The request body must be at most {max_bytes} bytes.")

    return limit_body_size
