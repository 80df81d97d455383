"""WebhookDeliverFunction: SQS batch consumer with partial batch failures (Powertools).

Each record is one delivery attempt (``botscope.webhooks.delivery.process_message``). Records of a
batch run side by side on a thread pool, so one slow endpoint does not delay the others. A record
fails (and SQS redelivers it) only when handling it raised: retries of *endpoint* failures are
scheduled by the core as new delayed messages, not by failing the record.

The delivery core (boto3, httpcore, pydantic-settings) and Powertools are imported on the first
invocation, not at module import: the import is the function's cold-start floor (250 ms budget,
docs/benchmarks.md ``bench_cold_import``), as for the scan stages (``botscope.workflow.handler``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

_instrumented: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None


async def record_handler(record: Any) -> str:
    """One SQS record (a Powertools ``SQSRecord``): one delivery attempt, off the event loop."""
    from botscope.observability import logger, metrics
    from botscope.webhooks import delivery

    loop = asyncio.get_running_loop()
    outcome = await loop.run_in_executor(delivery.EXECUTOR, delivery.process_message, record.body)
    logger.info("webhook message handled", extra={"outcome": outcome, "message_id": record.message_id})
    metrics.add_metric(name=f"WebhookOutcome_{outcome}", unit="Count", value=1)
    return outcome


def _process_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import (
        AsyncBatchProcessor,
        EventType,
        async_process_partial_response,
    )

    # A processor per invocation: it holds the batch's state, and the local stack may call this
    # handler from more than one thread.
    processor = AsyncBatchProcessor(event_type=EventType.SQS)
    return async_process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _instrumented
    if _instrumented is None:
        from botscope.observability import metrics

        _instrumented = metrics.log_metrics(_process_batch)
    return _instrumented(event, context)
