"""Mounts the MCP server at ``/mcp`` (outside ``/api/v1``): streamable HTTP, stateless, JSON."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import Route


def mount(app: FastAPI) -> None:
    from botscope.mcp.server import McpHttpEndpoint

    # A Route (not a Mount) so "/mcp" itself matches without a redirect to "/mcp/"; an ASGI app as
    # endpoint receives every method (POST messages; GET/DELETE are answered by the SDK).
    app.router.routes.append(Route("/mcp", endpoint=McpHttpEndpoint(), include_in_schema=False))
