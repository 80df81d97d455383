"""One delivery attempt per SQS message: the logic behind WebhookDeliverFunction.

A message names (event, endpoint, attempt number). Handling it:

1. Not yet due (a wait longer than SQS's 15-minute DelaySeconds)? Re-send it with the remaining
   delay, up to 15 minutes per hop.
2. Claim the attempt with one conditional write (a lease) that also returns the delivery: it
   fails when the delivery is no longer pending or this attempt was already recorded (SQS
   delivers at least once: the duplicate is acknowledged and nothing is sent) or when another
   copy of the message is being sent right now (the record fails; SQS brings it back later).
3. Guard the endpoint again (DNS may have changed since creation) and POST through the scanner's
   SSRF-pinned client (``botscope.scanner.fetch.Fetcher.send``): it connects to the checked
   address with the endpoint's name as Host and TLS SNI, never follows redirects, and bounds the
   attempt (connect and read timeouts, the attempt's deadline).
4. 2xx: delivered. 410: the endpoint is disabled. Anything else: the next attempt is sent to the
   queue with a delay (schedule + jitter, ``Retry-After`` honoured) and the message number
   incremented; after the last attempt the message is sent to the DLQ *explicitly* and the
   delivery is marked failed. (The queue's redrive policy stays as a backstop for messages whose
   handling itself keeps crashing.) An endpoint failing without a single success for
   ``webhook_disable_after_seconds`` is disabled with a reason the API shows.

Every attempt is recorded on the delivery item: time, status code, duration, error, next retry.
Errors never contain IP addresses.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import httpcore

from botscope import __version__
from botscope.config import Settings, get_settings
from botscope.errors import InvalidTarget, TargetNotPublic
from botscope.isotime import iso, parse_iso, utcnow
from botscope.scanner.fetch import Answer, Fetcher, FetchFailure, FetchLimits
from botscope.scanner.targets import Resolver, normalize_target
from botscope.store import delivery_queue
from botscope.store import webhooks as store
from botscope.webhooks import limits, schedule, secrets, signing, urls
from botscope.webhooks.fanout import delivery_message

USER_AGENT = f"BotScope-Webhooks/{__version__}"
# Addresses tried per delivery (the next one on connect failure). The whole attempt is also bounded
# by its deadline (``webhook_attempt_deadline_seconds``), which stays well inside the function's
# 30 s timeout however slowly the endpoint answers.
MAX_ADDRESSES_TRIED = 2
CONNECT_TIMEOUT_SECONDS = 5.0
# Deliveries of one SQS batch run side by side, so one slow endpoint cannot hold up the rest; the
# in-flight caps (botscope.webhooks.limits) keep one endpoint from taking many of these workers.
# Ten = the largest batch the event source mapping sends by default.
EXECUTOR = ThreadPoolExecutor(max_workers=10, thread_name_prefix="webhook-deliver")

DELIVERED, RETRY_SCHEDULED, DEAD_LETTERED, ENDPOINT_DISABLED = (
    "delivered",
    "retry_scheduled",
    "dead_lettered",
    "endpoint_disabled",
)
SKIPPED, DEFERRED, FAILED = "skipped", "deferred", "failed"


class AttemptInProgress(Exception):
    """Another worker holds the lease on this attempt: let SQS bring the message back later."""


@dataclass(frozen=True)
class DeliveryMessage:
    event_id: str
    webhook_id: str
    workspace_id: str
    attempt: int
    not_before: str | None = None

    @classmethod
    def parse(cls, body: str) -> DeliveryMessage:
        try:
            data = json.loads(body)
            message = cls(
                event_id=str(data["event_id"]),
                webhook_id=str(data["webhook_id"]),
                workspace_id=str(data["workspace_id"]),
                attempt=int(data["attempt"]),
                not_before=data.get("not_before"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError("malformed webhook delivery message") from exc
        if message.attempt < 1:
            raise ValueError("malformed webhook delivery message")
        return message

    def body(self) -> str:
        return delivery_message(
            event_id=self.event_id,
            webhook_id=self.webhook_id,
            workspace_id=self.workspace_id,
            attempt=self.attempt,
            not_before=self.not_before,
        )


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    duration_ms: int
    error: str | None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# --- sending -----------------------------------------------------------------------------------
# Through BotScope's one SSRF-pinned client (``botscope.scanner.fetch.Fetcher.send``), given the
# webhook network policy and these limits: it connects only to the addresses it has just checked,
# with the endpoint's name as Host and TLS SNI, never follows a redirect and does not read the
# response body.


def attempt_limits(timeout: float, deadline: float) -> FetchLimits:
    """One POST per attempt: ``timeout`` bounds each read (connects at most
    ``CONNECT_TIMEOUT_SECONDS``), ``deadline`` the whole exchange, however slowly the endpoint
    dribbles its answer."""
    return FetchLimits(
        connect_timeout=min(timeout, CONNECT_TIMEOUT_SECONDS),
        read_timeout=timeout,
        total_timeout=deadline,
        per_host_concurrency=1,
        request_budget=1,
        max_addresses_per_connect=MAX_ADDRESSES_TRIED,
    )


def send_attempt(
    url: str,
    secret: str | list[str],
    event_id: str,
    body: bytes,
    *,
    timeout: float,
    resolver: Resolver | None = None,
    network_backend: httpcore.AsyncNetworkBackend | None = None,
    deadline_seconds: float | None = None,
) -> AttemptResult:
    """One POST. ``secret`` may list several secrets (a rotation's overlap): each signs, and the
    signatures travel space-separated in one header. ``deadline_seconds`` bounds the whole attempt
    (default: ``webhook_attempt_deadline_seconds``). ``network_backend``: the dialer (tests)."""
    started = time.monotonic()
    settings = get_settings()
    total = deadline_seconds if deadline_seconds is not None else settings.webhook_attempt_deadline_seconds
    headers = [
        *signing.headers(secret, event_id, int(time.time()), body).items(),
        ("content-type", "application/json"),
        ("user-agent", USER_AGENT),
    ]
    fetcher = Fetcher(
        urls.network_policy(settings),
        attempt_limits(min(timeout, total), total),
        resolver or urls.DEFAULT_RESOLVER,
        network_backend=network_backend,
        extra_ca_bundle=settings.extra_ca_bundle or None,
    )
    try:
        answer = asyncio.run(_guard_and_post(fetcher, url, headers, body, settings))
    except (TargetNotPublic, InvalidTarget) as exc:
        return AttemptResult(None, _ms_since(started), f"{exc.code}: {exc.message}")
    except FetchFailure as failure:
        deadline_passed = failure.cause == "deadline" or time.monotonic() >= started + total
        return AttemptResult(
            None, _ms_since(started), _failure_text(failure, timeout, total, deadline_passed)
        )
    code = answer.status
    error = None if 200 <= code < 300 else f"HTTP {code}"
    return AttemptResult(
        code, _ms_since(started), error, schedule.parse_retry_after(answer.header("retry-after"))
    )


async def _guard_and_post(
    fetcher: Fetcher, url: str, headers: list[tuple[str, str]], body: bytes, settings: Settings
) -> Answer:
    """Check the endpoint again (DNS may have changed since it was created), then POST to the
    address just checked. The attempt's deadline covers both."""
    async with fetcher:
        try:
            async with asyncio.timeout(fetcher.limits.total_timeout):
                target = normalize_target(url)
                addresses = await fetcher.guard(target)
                urls.require_https(target, addresses, settings)
                return await fetcher.send(target, "POST", headers, body)
        except TimeoutError:
            raise FetchFailure("timeout", "attempt deadline reached", "deadline") from None


def _failure_text(failure: FetchFailure, timeout: float, total: float, deadline_passed: bool) -> str:
    """The attempt's recorded error: a kind and a cause, never an address."""
    if failure.code == "timeout" and deadline_passed:
        return f"timeout: attempt deadline of {total:g} s reached before the endpoint finished its response headers"
    if failure.code == "timeout":
        return f"timeout: no response within {timeout:g} s"
    return f"connection_error: {failure.cause}"


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


# --- one message -------------------------------------------------------------------------------


def process_message(body: str, *, resolver: Resolver | None = None) -> str:
    """Handles one SQS message body; returns what happened. Raises only for errors SQS should
    retry (AWS calls failing, another worker holding the attempt)."""
    settings = get_settings()
    try:
        message = DeliveryMessage.parse(body)
    except ValueError:
        delivery_queue.dead_letter(body, "malformed message")
        return DEAD_LETTERED
    now = utcnow()
    if message.not_before:
        remaining = (parse_iso(message.not_before) - now).total_seconds()
        if remaining >= 1:
            delivery_queue.send_later(message.body(), remaining)
            return DEFERRED
    endpoint = store.get_endpoint(message.workspace_id, message.webhook_id)
    leases: limits.FlightLeases | None = None
    if endpoint is not None and endpoint.status == store.ENABLED:
        # Caps come before the claim: a message over a cap is not an attempt, it waits in the queue.
        bound = limits.acquire(
            message.webhook_id,
            endpoint_host(endpoint.url),
            f"{message.event_id}#{message.attempt}",
            settings=settings,
        )
        if isinstance(bound, limits.Deferral):
            delivery_queue.send_later(message.body(), bound.delay_seconds)
            return DEFERRED
        leases = bound
    try:
        return _claim_and_send(message, endpoint, now, resolver=resolver)
    finally:
        if leases is not None:
            leases.release()


def endpoint_host(url: str) -> str:
    """The host the per-host caps count against (all workspaces' endpoints on it together)."""
    try:
        return normalize_target(url).host
    except InvalidTarget:
        return url


def _claim_and_send(
    message: DeliveryMessage,
    endpoint: store.Webhook | None,
    now: datetime,
    *,
    resolver: Resolver | None,
) -> str:
    settings = get_settings()
    lease = int(settings.webhook_attempt_deadline_seconds * 2) + 30
    delivery = store.claim_attempt(
        message.webhook_id,
        message.event_id,
        message.attempt,
        now_epoch=int(now.timestamp()),
        lease_seconds=lease,
    )
    if delivery is None:
        current = store.get_delivery(message.webhook_id, message.event_id)
        if current is None or current.status != store.PENDING or current.attempt_count >= message.attempt:
            return SKIPPED  # a duplicate of a message already handled
        raise AttemptInProgress(f"attempt {message.attempt} of {message.event_id} is being sent elsewhere")
    if endpoint is None:
        store.fail_delivery(message.webhook_id, message.event_id, "endpoint deleted")
        return SKIPPED
    if endpoint.status != store.ENABLED:
        store.fail_delivery(
            message.webhook_id,
            message.event_id,
            f"endpoint disabled: {endpoint.disabled_reason or 'disabled'}",
        )
        return FAILED

    result = send_attempt(
        endpoint.url,
        secrets.signing_secrets(endpoint),
        message.event_id,
        delivery.payload.encode(),
        timeout=settings.webhook_timeout_seconds,
        resolver=resolver,
    )
    return _conclude(message, delivery, endpoint, result, started_at=now)


def _success_worth_noting(endpoint: store.Webhook, now: datetime) -> bool:
    """A success ends a failure streak; otherwise last_success_at is refreshed at most once a
    minute (one write fewer per delivery on a busy, healthy endpoint)."""
    last = endpoint.last_success_at
    return bool(endpoint.failing_since) or not last or (now - parse_iso(last)).total_seconds() >= 60


def _conclude(
    message: DeliveryMessage,
    delivery: store.Delivery,
    endpoint: store.Webhook,
    result: AttemptResult,
    *,
    started_at: datetime,
) -> str:
    """Records the attempt and what follows it: delivered, the endpoint disabled (410 Gone), the
    next attempt scheduled, or, after the last one, the message dead-lettered."""
    settings = get_settings()
    attempt = store.DeliveryAttempt(
        attempt=message.attempt,
        at=iso(started_at),
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        error=result.error,
    )
    if result.delivered:
        return _record_delivered(message, endpoint, attempt, started_at)
    if result.status_code == 410:
        return _record_gone(message, attempt)
    _note_failure(message, started_at, settings)
    if message.attempt < schedule.max_attempts(settings):
        return _schedule_retry(message, attempt, result, started_at, settings)
    return _give_up(message, delivery, attempt, result)


def _record_delivered(
    message: DeliveryMessage, endpoint: store.Webhook, attempt: store.DeliveryAttempt, started_at: datetime
) -> str:
    recorded = store.record_attempt(
        message.webhook_id, message.event_id, attempt, status=store.DELIVERED, error=None
    )
    if recorded and _success_worth_noting(endpoint, started_at):
        store.note_endpoint_success(message.workspace_id, message.webhook_id)
    return DELIVERED


def _record_gone(message: DeliveryMessage, attempt: store.DeliveryAttempt) -> str:
    """410 Gone: the receiver asks for no more deliveries, so the endpoint is disabled."""
    reason = "the endpoint answered 410 Gone"
    store.disable_endpoint(message.workspace_id, message.webhook_id, reason)
    store.record_attempt(
        message.webhook_id,
        message.event_id,
        attempt,
        status=store.FAILED,
        error=f"{reason}; endpoint disabled",
    )
    return ENDPOINT_DISABLED


def _note_failure(message: DeliveryMessage, at: datetime, settings: Settings) -> None:
    """Extends the endpoint's failure streak; a streak without a success for
    ``webhook_disable_after_seconds`` disables the endpoint."""
    since = store.note_endpoint_failure(message.workspace_id, message.webhook_id, iso(at))
    if since and (at - parse_iso(since)).total_seconds() >= settings.webhook_disable_after_seconds:
        store.disable_endpoint(
            message.workspace_id,
            message.webhook_id,
            f"no successful delivery since {since}: disabled after "
            f"{settings.webhook_disable_after_seconds // 3600} h of failures",
        )


def _schedule_retry(
    message: DeliveryMessage,
    attempt: store.DeliveryAttempt,
    result: AttemptResult,
    started_at: datetime,
    settings: Settings,
) -> str:
    n = message.attempt
    delay = schedule.delay_before_attempt(
        n + 1, retry_after=result.retry_after, schedule=schedule.retry_schedule(settings)
    )
    next_at = iso(started_at + timedelta(seconds=delay))
    # Enqueue first, record second: if recording fails the message comes back and the attempt is
    # repeated; the other order could lose the retry.
    delivery_queue.send_later(replace(message, attempt=n + 1, not_before=next_at).body(), delay)
    store.record_attempt(
        message.webhook_id,
        message.event_id,
        attempt.model_copy(update={"next_retry_at": next_at}),
        status=store.PENDING,
        error=result.error,
    )
    return RETRY_SCHEDULED


def _give_up(
    message: DeliveryMessage, delivery: store.Delivery, attempt: store.DeliveryAttempt, result: AttemptResult
) -> str:
    """After the last attempt: the message goes to the DLQ explicitly and the delivery is failed."""
    n = message.attempt
    delivery_queue.dead_letter(
        message.body(), f"gave up after {n} attempts: {result.error}", delivery.event_type
    )
    store.record_attempt(
        message.webhook_id,
        message.event_id,
        attempt,
        status=store.FAILED,
        error=f"gave up after {n} attempts; last error: {result.error}",
    )
    return DEAD_LETTERED
