"""What every scan-stage Lambda handler shares: Powertools logging with the scan id as correlation
id, EMF metrics, tracing, and the translation of transient AWS errors into ``TransientError`` so
the state machine's Retry (not its Catch) handles them.

Handlers stay a few lines (``functions/scan_*/app.py``)::

    @stage_handler
    def lambda_handler(event, context):
        from botscope.workflow import stages
        return stages.prepare(event["scan_job_id"], event["workspace_id"])

Why everything here is imported on first use: a stage's module import is its cold-start floor
(issue 2 budgets 250 ms). boto3, pydantic-settings and the X-Ray SDK (whose recorder builds a
botocore client when it is created) each cost about that much on their own, and a Map of N probes
pays the cold start up to N times in parallel. Deferring them to the first invocation keeps the
import cheap; docs/benchmarks.md reports both the import and the first-invocation setup.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from botscope.aws.errors import is_transient_code

Handler = Callable[[dict[str, Any], Any], Any]


class TransientError(Exception):
    """A failure worth retrying. The state machine's Retry lists this name (Lambda reports the
    exception's class name as the error type)."""


def is_transient(exc: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        return is_transient_code(exc.response)
    return isinstance(exc, BotoCoreError)  # connection and read timeouts, endpoint errors


def _instrument(fn: Handler) -> Handler:
    from botocore.exceptions import BotoCoreError, ClientError

    from botscope.observability import logger, metrics, tracer

    def run(event: dict[str, Any], context: Any) -> Any:
        try:
            return fn(event, context)
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                logger.warning("transient AWS error, the workflow will retry", extra={"error": repr(exc)})
                raise TransientError(type(exc).__name__) from exc
            raise

    wrapped = logger.inject_lambda_context(correlation_id_path="scan_job_id", clear_state=True)(run)
    wrapped = metrics.log_metrics(wrapped)
    return cast(Handler, tracer.capture_lambda_handler(wrapped, capture_response=False))


def stage_handler(fn: Handler) -> Handler:
    instrumented: Handler | None = None

    @functools.wraps(fn)
    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        nonlocal instrumented
        if instrumented is None:
            instrumented = _instrument(fn)
        return instrumented(event, context)

    return lambda_handler
