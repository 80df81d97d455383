"""Bounds on the traffic webhooks send (docs/invariants.md "Webhook traffic").

A webhook URL is chosen by the customer, so BotScope must not become a way to flood a third party:

* **in flight**: at most ``webhook_max_in_flight_per_endpoint`` attempts to one endpoint and
  ``webhook_max_in_flight_per_host`` to one host (all workspaces together) are being sent at once.
  Each attempt holds a lease (``botscope.store.rate_windows.claim_flight_slot``) claimed with a
  conditional put and released when the attempt ends; a lease outlives a crashed worker by at most the attempt
  deadline plus a grace period. A slow endpoint therefore ties up at most that many workers.
* **per minute**: at most ``webhook_max_attempts_per_endpoint_minute`` attempts (first tries and
  retries) per endpoint and ``webhook_max_attempts_per_host_minute`` per host, fixed windows
  (``botscope.ratelimit.fixed_window_hit``).
* ``/test`` calls: ``webhook_test_per_endpoint_minute`` per endpoint (429 with ``Retry-After``).

A message over a bound is not an attempt: it goes back to the queue with a short delay, and the
attempt number and retry schedule are unchanged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from botscope import ratelimit
from botscope.config import Settings, get_settings
from botscope.store import rate_windows

LEASE_GRACE_SECONDS = 30
MINUTE = 60


@dataclass
class FlightLeases:
    """The in-flight leases one attempt holds; ``release`` frees them (idempotent)."""

    held: list[tuple[str, int, str]] = field(default_factory=list)

    def release(self) -> None:
        while self.held:
            scope, slot, holder = self.held.pop()
            rate_windows.release_flight_slot(scope, slot, holder)


@dataclass(frozen=True)
class Deferral:
    """Why a message waits, and for how long (seconds)."""

    reason: str
    delay_seconds: float


def _jitter(seconds: float) -> float:
    return seconds * random.uniform(1.0, 1.5)  # noqa: S311 - spreads retries, not a secret


def acquire(
    webhook_id: str, host: str, holder: str, *, settings: Settings | None = None
) -> FlightLeases | Deferral:
    """The leases for one attempt to ``webhook_id`` on ``host``, or why it must wait."""
    settings = settings or get_settings()
    ttl = int(settings.webhook_attempt_deadline_seconds) + LEASE_GRACE_SECONDS
    leases = FlightLeases()
    for scope, limit in (
        (f"wh:{webhook_id}", settings.webhook_max_in_flight_per_endpoint),
        (f"host:{host}", settings.webhook_max_in_flight_per_host),
    ):
        if limit <= 0:
            continue
        slot = rate_windows.claim_flight_slot(scope, limit, holder, ttl)
        if slot is None:
            leases.release()
            noun = "endpoint" if scope.startswith("wh:") else "host"
            return Deferral(f"{limit} attempts already in flight to this {noun}", _jitter(2.0))
        leases.held.append((scope, slot, holder))
    for counter, quota, noun in (
        (f"whmin:{webhook_id}", settings.webhook_max_attempts_per_endpoint_minute, "endpoint"),
        (f"whhostmin:{host}", settings.webhook_max_attempts_per_host_minute, "host"),
    ):
        reset = ratelimit.fixed_window_hit(counter, quota, MINUTE)
        if reset is not None:
            leases.release()
            return Deferral(f"{quota} attempts per minute to this {noun} reached", _jitter(float(reset)))
    return leases


def check_test_rate(webhook_id: str, *, settings: Settings | None = None) -> int | None:
    """Counts one ``/test`` call; the seconds to wait when over the per-endpoint limit, else None."""
    settings = settings or get_settings()
    return ratelimit.fixed_window_hit(
        f"whtest:{webhook_id}", settings.webhook_test_per_endpoint_minute, MINUTE
    )
