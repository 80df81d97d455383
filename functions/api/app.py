"""ApiFunction: the FastAPI app (``botscope.api.app.create_app``) behind API Gateway HTTP API
(payload format 2.0), adapted by Mangum. Thin: all behaviour lives in the core package.

The app is built once per execution environment and reused by every invocation. Powertools'
Logger (correlation id = the API Gateway request id), Metrics (EMF, cold-start metric) and Tracer
wrap the handler on its first invocation, as the scan stages do (``botscope.workflow.handler``):
the X-Ray recorder builds a botocore client when created, which is import-time cost a request
that is rejected early (401, 404) does not need before the first response.
"""

from __future__ import annotations

import asyncio
from typing import Any

from botscope.api.app import create_app
from mangum import Mangum

app = create_app()
_asgi_handler = Mangum(app, lifespan="off")
_instrumented: Any = None


def _instrument(handler: Any) -> Any:
    from aws_lambda_powertools.logging import correlation_paths
    from botscope.observability import logger, metrics, tracer

    wrapped = metrics.log_metrics(handler, capture_cold_start_metric=True)
    wrapped = tracer.capture_lambda_handler(wrapped, capture_response=False)  # responses may hold report data
    return logger.inject_lambda_context(
        wrapped, correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
    )


def _ensure_event_loop() -> None:
    """Mangum runs each request on ``asyncio.get_event_loop()``, which raises once an earlier
    ``asyncio.run`` in the same thread has closed and unset its loop (the local stack and tests run
    other handlers in-process); a fresh loop is set for this thread then."""
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _instrumented
    _ensure_event_loop()
    if _instrumented is None:
        _instrumented = _instrument(_asgi_handler)
    return _instrumented(event, context)  # type: ignore[no-any-return]
