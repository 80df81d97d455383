"""The scan edges (moto state machine, fake resolver) and thread-safe moto come from the MCP tests."""

from tests.integration.mcp.conftest import atomic_moto, live_server, scan_edges  # noqa: F401
