"""Which AWS error codes are worth retrying: throttling and server-side trouble. Anything else
(validation, access denied, a missing item, a failed condition) fails the same way on every
attempt. One list for the API (503 ``temporarily_unavailable`` with ``Retry-After``) and the
workflow stages (``TransientError``, retried by the state machine). No imports: the stage
handlers read it before botocore is loaded."""

from __future__ import annotations

from typing import Any

TRANSIENT_AWS_ERROR_CODES = frozenset(
    {
        # throttling
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TooManyRequestsException",
        "LimitExceededException",
        "SlowDown",
        # server-side trouble and timeouts
        "InternalServerError",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        # A transaction that collided with a concurrent one on the same items (conditions are handled
        # where they are written, botscope.store.table.is_conditional_failure): safe to retry.
        "TransactionCanceledException",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)


def is_transient_code(response: dict[str, Any]) -> bool:
    """Whether a botocore ``ClientError.response`` names a retryable error."""
    return (response.get("Error") or {}).get("Code") in TRANSIENT_AWS_ERROR_CODES
