"""One delivery attempt per SQS message: the logic behind WebhookDeliverFunction.

A message names (event, endpoint, attempt number). Handling it:

1. Not yet due (a wait longer than SQS's 15-minute DelaySeconds)? Re-send it with the remaining
   delay, up to 15 minutes per hop.
2. Claim the attempt with one conditional write (a lease) that also returns the delivery: it
   fails when the delivery is no longer pending or this attempt was already recorded (SQS
   delivers at least once: the duplicate is acknowledged and nothing is sent) or when another
   copy of the message is being sent right now (the record fails; SQS brings it back later).
3. Guard the endpoint again (DNS may have changed since creation), connect to the checked address
   with the endpoint's name as Host and TLS SNI, never follow redirects, bounded timeouts.
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

import json
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import httpcore
import httpx

from botscope import __version__
from botscope.config import Settings, get_settings
from botscope.errors import InvalidTarget, TargetNotPublic
from botscope.isotime import parse_iso
from botscope.scanner.model import Target
from botscope.scanner.targets import IPAddress, Resolver, parse_ip_literal_loose
from botscope.store import delivery_queue
from botscope.store import webhooks as store
from botscope.store.table import iso, utcnow
from botscope.webhooks import limits, schedule, secrets, signing, urls
from botscope.webhooks.fanout import delivery_message

USER_AGENT = f"BotScope-Webhooks/{__version__}"
# Connect attempts per delivery (next address on connect failure). Every socket operation of an
# attempt is also bounded by the attempt's total deadline (``DeadlineBackend``), which stays well
# inside the function's 30 s timeout however slowly the endpoint answers.
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


class AttemptDeadlineExceeded(httpcore.ReadTimeout):
    """The attempt's total deadline passed while the endpoint was still connecting or answering."""


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def _remaining(self, timeout: float | None) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise AttemptDeadlineExceeded("attempt deadline reached")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._remaining(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, self._remaining(timeout))
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend with every connect, read and write clipped to one wall-clock
    deadline: httpx's timeouts bound each read, so an endpoint dribbling a byte a second would
    otherwise hold an attempt (and its worker) for as long as it likes."""

    def __init__(self, deadline: float) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise AttemptDeadlineExceeded("attempt deadline reached")
        stream = self._inner.connect_tcp(
            host, port, left if timeout is None else min(timeout, left), local_address, socket_options
        )
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:  # pragma: no cover
        raise httpcore.ConnectError("webhooks never use unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self._deadline - time.monotonic())))


def deadline_transport(deadline: float) -> httpx.HTTPTransport:
    """httpx's transport (certificate checks, no proxy from the environment) over ``DeadlineBackend``."""
    transport = httpx.HTTPTransport(verify=_tls_context(), trust_env=False)
    # httpx builds its httpcore pool without a way to pass a network backend: swap in an equivalent
    # pool over the deadline-aware backend.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=_tls_context(), network_backend=DeadlineBackend(deadline)
    )
    return transport


def _pinned_request_parts(target: Target, ip: IPAddress) -> tuple[str, str, dict[str, Any]]:
    """URL that dials ``ip``, the Host header, and the TLS SNI/certificate name (the host)."""
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    url = f"{target.scheme}://{host}:{target.port}{target.path}"
    host_header = target.origin.split("://", 1)[1]
    extensions: dict[str, Any] = {}
    if target.scheme == "https" and parse_ip_literal_loose(target.host) is None:
        extensions["sni_hostname"] = target.host  # httpcore also checks the certificate against it
    return url, host_header, extensions


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """Built once: loading the CA bundle costs ~50 ms of CPU, far more than a local delivery.
    Certificate and host name checks stay on (httpx's defaults, certifi's CA bundle)."""
    return httpx.create_ssl_context()


def post_pinned(
    target: Target,
    addresses: list[IPAddress],
    headers: dict[str, str],
    body: bytes,
    *,
    timeout: float,
    transport: httpx.BaseTransport | None = None,
    deadline: float | None = None,
) -> httpx.Response:
    """POST to the checked addresses only (next one on connect failure), no redirects, no proxy
    from the environment, body not read (we only need the status line and headers). ``deadline``
    (a ``time.monotonic()`` instant) bounds the whole exchange when no ``transport`` is given."""
    last_error: Exception | None = None
    if transport is None and deadline is not None:
        transport = deadline_transport(deadline)
    with httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_SECONDS)),
        follow_redirects=False,
        trust_env=False,
        verify=_tls_context(),
        transport=transport,
    ) as client:
        for ip in addresses[:MAX_ADDRESSES_TRIED]:
            url, host_header, extensions = _pinned_request_parts(target, ip)
            try:
                with client.stream(
                    "POST", url, content=body, headers={**headers, "host": host_header}, extensions=extensions
                ) as response:
                    return response
            except httpx.ConnectError as exc:
                last_error = exc
    assert last_error is not None
    raise last_error


def send_attempt(
    url: str,
    secret: str | list[str],
    event_id: str,
    body: bytes,
    *,
    timeout: float,
    resolver: Resolver | None = None,
    transport: httpx.BaseTransport | None = None,
    deadline_seconds: float | None = None,
) -> AttemptResult:
    """One POST. ``secret`` may list several secrets (a rotation's overlap): each signs, and the
    signatures travel space-separated in one header. ``deadline_seconds`` bounds the whole attempt
    (default: ``webhook_attempt_deadline_seconds``)."""
    started = time.monotonic()
    total = (
        deadline_seconds if deadline_seconds is not None else get_settings().webhook_attempt_deadline_seconds
    )

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target, addresses = urls.guard_endpoint(url, resolver=resolver)
    except (TargetNotPublic, InvalidTarget) as exc:
        return AttemptResult(None, elapsed_ms(), f"{exc.code}: {exc.message}")
    headers = {
        **signing.headers(secret, event_id, int(time.time()), body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
    try:
        response = post_pinned(
            target,
            addresses,
            headers,
            body,
            timeout=min(timeout, total),
            transport=transport,
            deadline=started + total,
        )
    except httpx.TimeoutException as exc:
        if (
            isinstance(exc.__cause__ or exc.__context__, AttemptDeadlineExceeded)
            or time.monotonic() >= started + total
        ):
            return AttemptResult(
                None,
                elapsed_ms(),
                f"timeout: attempt deadline of {total:g} s reached "
                "before the endpoint finished its response headers",
            )
        return AttemptResult(None, elapsed_ms(), f"timeout: no response within {timeout:g} s")
    except httpx.HTTPError as exc:
        # The class name only: httpx messages can contain the address we dialled.
        return AttemptResult(None, elapsed_ms(), f"connection_error: {type(exc).__name__}")
    code = response.status_code
    error = None if 200 <= code < 300 else f"HTTP {code}"
    return AttemptResult(
        code, elapsed_ms(), error, schedule.parse_retry_after(response.headers.get("retry-after"))
    )


# --- one message -------------------------------------------------------------------------------


def process_message(
    body: str, *, resolver: Resolver | None = None, transport: httpx.BaseTransport | None = None
) -> str:
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
        return _claim_and_send(message, endpoint, now, resolver=resolver, transport=transport)
    finally:
        if leases is not None:
            leases.release()


def endpoint_host(url: str) -> str:
    """The host the per-host caps count against (all workspaces' endpoints on it together)."""
    from botscope.scanner.targets import normalize_target

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
    transport: httpx.BaseTransport | None,
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
        transport=transport,
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
