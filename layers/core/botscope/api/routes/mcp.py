"""Mounts the MCP server at ``/mcp`` (outside ``/api/v1``): streamable HTTP, stateless, JSON."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import Receive, Scope, Send


class _LazyMcpEndpoint:
    """Imports the MCP SDK on the first ``/mcp`` request: the SDK alone costs more than the rest of
    the API's cold start, and most invocations of the API function never touch ``/mcp``."""

    def __init__(self) -> None:
        self._endpoint: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._endpoint is None:
            from botscope.mcp.server import McpHttpEndpoint

            self._endpoint = McpHttpEndpoint()
        await self._endpoint(scope, receive, send)


def mount(app: FastAPI) -> None:
    # A Route (not a Mount) so "/mcp" itself matches without a redirect to "/mcp/"; an ASGI app as
    # endpoint receives every method (POST messages; other methods are answered with 405).
    app.router.routes.append(Route("/mcp", endpoint=_LazyMcpEndpoint(), include_in_schema=False))
