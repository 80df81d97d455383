"""When to try a webhook delivery again.

``Settings.webhook_retry_schedule`` lists the seconds to wait *between* attempts, so a schedule of
N numbers means N + 1 attempts. The production default follows Standard Webhooks / Svix (quick
first retries, then hours apart) and spans about a day; the local stack and tests compress it
(``1,2,4,8`` or even ``0,0,0``).

Each wait gets +/-20 % jitter so endpoints that fail together (an outage at the customer) do not
get their retries back in lock-step. A ``Retry-After`` from the endpoint is honoured when it asks
for longer than the schedule would wait, capped so one header cannot park a delivery for days.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from botscope.config import Settings, get_settings
from botscope.numbers import ascii_int

# 5 s, 5 min, 30 min, 2 h, 5 h, 8 h, 8 h 20 min: 8 attempts over ~23.9 h (19-29 h with jitter).
PRODUCTION_SCHEDULE: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 28800, 30000)
JITTER = 0.2
MAX_RETRY_AFTER_SECONDS = 6 * 3600


def retry_schedule(settings: Settings | None = None) -> tuple[float, ...]:
    raw = (settings or get_settings()).webhook_retry_schedule
    if not raw.strip():
        return PRODUCTION_SCHEDULE
    values = tuple(float(part) for part in raw.split(",") if part.strip())
    if any(v < 0 for v in values):
        raise ValueError("webhook_retry_schedule values must be >= 0")
    return values


def max_attempts(settings: Settings | None = None) -> int:
    return len(retry_schedule(settings)) + 1


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delay-seconds or HTTP-date), else None.

    The endpoint writes this header, so anything it sends is read without raising: only ASCII
    digits count as delay-seconds (``²``, ``①``, ``１０`` and ``-5`` are ignored, RFC 9110 10.2.3),
    a number too long to matter reads as the cap, and an unreadable date is None."""
    if not value:
        return None
    value = value.strip()[:64]
    seconds = ascii_int(value, max_digits=9)
    if seconds is not None:
        return float(min(seconds, MAX_RETRY_AFTER_SECONDS))
    if value.isascii() and value.isdigit():
        return float(MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def delay_before_attempt(
    next_attempt: int,
    *,
    retry_after: float | None = None,
    schedule: Sequence[float] | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before attempt ``next_attempt`` (2 = the first retry)."""
    schedule = tuple(schedule if schedule is not None else retry_schedule())
    base = schedule[min(next_attempt - 2, len(schedule) - 1)]
    jittered = base * (rng or random).uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        jittered = max(jittered, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return jittered
