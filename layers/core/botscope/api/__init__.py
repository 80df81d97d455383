"""The HTTP API: one FastAPI app factory used by both Mangum (Lambda) and uvicorn (local)."""
