"""WebhookDeliverFunction: SQS batch consumer with partial batch failures (Powertools).

Each record is one delivery attempt (``botscope.webhooks.delivery.process_message``). Records of a
batch run side by side on a thread pool, so one slow endpoint does not delay the others. A record
fails (and SQS redelivers it) only when handling it raised: retries of *endpoint* failures are
scheduled by the core as new delayed messages, not by failing the record.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botscope.observability import logger, metrics
from botscope.webhooks import delivery


async def record_handler(record: SQSRecord) -> str:
    loop = asyncio.get_running_loop()
    outcome = await loop.run_in_executor(delivery.EXECUTOR, delivery.process_message, record.body)
    logger.info("webhook message handled", extra={"outcome": outcome, "message_id": record.message_id})
    metrics.add_metric(name=f"WebhookOutcome_{outcome}", unit="Count", value=1)
    return outcome


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # A processor per invocation: it holds the batch's state, and the local stack may call this
    # handler from more than one thread.
    processor = AsyncBatchProcessor(event_type=EventType.SQS)
    return async_process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                          context=context)
