"""The FastAPI app factory, used by Mangum (``functions/api/app.py``) and by uvicorn (local stack).

Routers are discovered: every module in ``botscope.api.routes`` that defines ``router`` is
included, so features add a module rather than editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import uuid
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from botscope import __version__
from botscope.api import problems, routes
from botscope.links import API_PREFIX

_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIdMiddleware(BaseHTTPMiddleware):
    """Gives every request a server-side id (API Gateway's when present, else a fresh one), echoes it
    as ``X-Request-Id`` and binds it to the logs and the audit log. A caller's own ``X-Request-Id``
    never becomes the request id (audit records must not carry what the caller chose); when it is
    short and plain it is echoed as ``X-Client-Request-Id`` and logged as ``client_request_id``."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        from botscope.observability import logger

        event = request.scope.get("aws.event") or {}
        client_id = request.headers.get("x-request-id") or ""
        client_request_id = client_id if _CLIENT_REQUEST_ID.fullmatch(client_id) else None
        request_id = (event.get("requestContext") or {}).get("requestId") or f"req_{uuid.uuid4().hex}"
        request.state.request_id = request_id
        logger.set_correlation_id(request_id)
        if client_request_id:
            logger.append_keys(client_request_id=client_request_id)
        try:
            response = await call_next(request)
        finally:
            if client_request_id:
                logger.remove_keys(["client_request_id"])
        response.headers["X-Request-Id"] = request_id
        if client_request_id:
            response.headers["X-Client-Request-Id"] = client_request_id
        return response


def _route_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(routes.__path__) if not m.name.startswith("_"))


def create_app() -> FastAPI:
    app = FastAPI(
        title="BotScope API",
        version=__version__,
        description="Audits and monitors a website's anti-bot and anti-agent measures (ABAAM).",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    problems.install(app)
    app.add_middleware(RequestIdMiddleware)
    for name in _route_modules():
        module = importlib.import_module(f"{routes.__name__}.{name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router, prefix=API_PREFIX)
        mount = getattr(module, "mount", None)
        if callable(mount):  # e.g. the MCP server, mounted outside /api/v1
            mount(app)
    _document_errors_in_openapi(app)
    return app


def _document_errors_in_openapi(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.document_standard_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
