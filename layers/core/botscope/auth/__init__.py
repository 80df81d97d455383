"""Credentials: API keys (``dxk_``), MCP tokens (``mcp_``), browser sessions, and the principal."""
