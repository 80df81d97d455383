"""The MCP server for agents (``/mcp``); see ``botscope.mcp.server``."""
