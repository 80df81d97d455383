"""The real FastAPI app served by uvicorn on 127.0.0.1 at an ephemeral port, in a daemon thread,
for tests that talk to it over HTTP (conformance fuzzing, MCP, audit source addresses)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


@contextlib.contextmanager
def serve_app(app: Any, *, name: str, config: uvicorn.Config | None = None) -> Iterator[str]:
    """Yields the base URL while ``app`` is served; stops the server on exit. ``config`` (its host,
    port and lifespan are overridden) carries server settings such as forwarded-header trust.
    No lifespan runs, as under Mangum."""
    if config is None:
        config = uvicorn.Config(app, log_level="warning")
    config.host, config.port, config.lifespan = "127.0.0.1", 0, "off"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    for _ in range(1000):  # start-up wait, not a timed assertion
        if server.started or not thread.is_alive():
            break
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
