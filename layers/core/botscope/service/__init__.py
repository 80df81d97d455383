"""The service layer: every use case of BotScope, called by the HTTP routes and by the MCP tools
alike, so both surfaces apply the same rules (plans, SSRF guard, tenant isolation, idempotency).
Routes and tools only translate between their transport and these functions."""
