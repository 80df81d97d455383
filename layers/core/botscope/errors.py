"""Typed domain errors. Each carries the stable ``code`` of docs/api.md; the API maps them to RFC 9457
problem responses in exactly one place (``botscope.api.problems``)."""

from __future__ import annotations

from typing import Any


class BotScopeError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.title)
        self.message = message or self.title
        if code:
            self.code = code
        self.errors = errors or []
        self.headers = headers or {}


class InvalidTarget(BotScopeError):
    status, code, title = 422, "invalid_target", "Invalid target URL"


class TargetNotPublic(BotScopeError):
    status, code, title = 422, "target_not_public", "Target is not a public address"


class TargetUnresolvable(TargetNotPublic):
    """The host name has no address. A subclass of ``TargetNotPublic`` so every guard that refuses
    non-public targets refuses it too; its own code tells the caller to check the spelling."""

    code, title = "target_unresolvable", "Target host name does not resolve"


class ValidationFailed(BotScopeError):
    status, code, title = 422, "validation_error", "Validation failed"


class Unauthorized(BotScopeError):
    status, code, title = 401, "unauthorized", "Missing or invalid credential"


class Forbidden(BotScopeError):
    status, code, title = 403, "forbidden", "Forbidden"


class PlanRequired(Forbidden):
    code, title = "plan_required", "Your plan does not include this"


class NotFound(BotScopeError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(BotScopeError):
    status, code, title = 409, "conflict", "Conflict"


class RateLimited(BotScopeError):
    status, code, title = 429, "rate_limited", "Too many requests"


# --- scans and monitoring (docs/api.md "Scans") ------------------------------------------------------


class UrlNotMonitored(Forbidden):
    code, title = "url_not_monitored", "This URL is not under monitoring"


class SlotsExhausted(Conflict):
    code, title = "monitoring_slots_exhausted", "All monitoring slots are in use"


class ScanNotReady(Conflict):
    code, title = "scan_not_ready", "The scan has not finished yet"


class TargetUnreachable(BotScopeError):
    """No path run of a scan got an HTTP response: there is nothing to report on, so the scan
    fails instead of completing with an empty report (a report states only what was observed)."""

    status, code, title = 502, "target_unreachable", "The target did not answer"


class ScanFailedError(Conflict):
    code, title = "scan_failed", "The scan failed"


class ScanCancelledError(Conflict):
    code, title = "scan_cancelled", "The scan was cancelled"


class IdempotencyMismatch(BotScopeError):
    status, code, title = 422, "idempotency_mismatch", "Idempotency-Key reused with a different request"


class IdempotencyInFlight(Conflict):
    code, title = "idempotency_in_flight", "A request with this Idempotency-Key is still in progress"


class ServiceUnavailable(BotScopeError):
    status, code, title = 503, "temporarily_unavailable", "Temporarily unavailable"


class PayloadTooLarge(BotScopeError):
    status, code, title = 413, "payload_too_large", "Request body too large"
