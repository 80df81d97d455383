"""Rate limits: requests per credential, and running scans per workspace.

Request rate is a fixed-window counter per credential (``botscope.store.rate_windows``): one
atomic ``ADD`` guarded by ``hits < limit``, so concurrent Lambdas share one count and a refused
request does not consume quota. The counter expires with the window (TTL).

Concurrent scans are the workspace's live ``ACTIVE#`` markers (one per running scan, written by
the scan service and removed when the scan finishes), counted before a *new* scan starts: a cheap
early refusal. The limit itself is enforced atomically by a lease per running scan
(``botscope.store.scans.claim_concurrency_lease``), claimed after the URL's marker. Reads
of existing scans never pass through this check, so they stay available while creation is limited.

429 responses carry ``Retry-After`` and the IETF draft ``RateLimit`` / ``RateLimit-Policy``
structured fields (draft-ietf-httpapi-ratelimit-headers: ``"<policy>";q=<quota>;w=<window>`` and
``"<policy>";r=<remaining>;t=<seconds to reset>``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from botscope.auth.principal import Principal
from botscope.config import get_settings
from botscope.errors import RateLimited
from botscope.store import rate_windows

REQUEST_POLICY = "requests"
SCAN_POLICY = "concurrent-scans"
# Retry hint while the workspace is at its concurrent scan limit: roughly one poll interval of a scan.
SCAN_RETRY_AFTER_SECONDS = 30
# Wall clock of the fixed windows (a seam for tests: windows must not roll over mid-test).
_clock = time.time


@dataclass(frozen=True)
class RateLimitState:
    policy: str
    quota: int
    window_seconds: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Policy": f'"{self.policy}";q={self.quota};w={self.window_seconds}',
            "RateLimit": f'"{self.policy}";r={self.remaining};t={self.reset_seconds}',
        }


def _refuse(state: RateLimitState, message: str) -> RateLimited:
    headers = state.headers()
    headers["Retry-After"] = str(max(1, state.reset_seconds))
    return RateLimited(message, headers=headers)


def check_request_rate(principal: Principal, *, now: float | None = None) -> RateLimitState | None:
    """Counts one request for the principal's credential. Raises ``RateLimited`` when its window is
    full; returns the state (for informational headers), or ``None`` when limits are off."""
    settings = get_settings()
    quota, window = settings.rate_limit_requests, max(1, settings.rate_limit_window_seconds)
    if quota <= 0:
        return None
    moment = _clock() if now is None else now
    window_start = int(moment // window) * window
    reset = max(1, math.ceil(window_start + window - moment))
    hits = rate_windows.count_hit(principal.actor, window_start, window, quota)
    if hits is None:
        state = RateLimitState(REQUEST_POLICY, quota, window, 0, reset)
        raise _refuse(
            state,
            f"This credential made {quota} requests in the current {window}-second window; "
            f"retry after {reset} seconds.",
        )
    return RateLimitState(REQUEST_POLICY, quota, window, max(0, quota - hits), reset)


def running_scan_count(workspace_id: str, *, now: float | None = None) -> int:
    """Live ``ACTIVE#`` markers of the workspace (expired markers are stale: TTL deletes lazily)."""
    from botscope.store import scans

    return scans.count_active_markers(workspace_id, now=int(_clock() if now is None else now))


def check_scan_concurrency(principal: Principal) -> None:
    """Call before starting a *new* scan (not when an already running scan of the same URL is
    returned). Raises ``RateLimited`` when the workspace already runs its maximum of scans."""
    limit = get_settings().max_concurrent_scans
    if limit <= 0:
        return
    running = running_scan_count(principal.workspace_id)
    if running >= limit:
        raise scan_limit_refusal(limit, running)


def scan_limit_refusal(limit: int, running: int) -> RateLimited:
    """The 429 for a workspace at its concurrent-scan limit (the pre-check above, or a start that
    lost the race for the last lease: ``botscope.store.scans.claim_concurrency_lease``)."""
    state = RateLimitState(SCAN_POLICY, limit, SCAN_RETRY_AFTER_SECONDS, 0, SCAN_RETRY_AFTER_SECONDS)
    return _refuse(
        state,
        f"Your workspace is already running {running} scans (the limit is {limit}); "
        "start this one when a scan finishes. Reading existing scans is not limited.",
    )


def fixed_window_hit(
    counter: str, quota: int, window_seconds: int, *, now: float | None = None
) -> int | None:
    """Counts one hit on the fixed-window counter ``counter`` (``RL#<counter>`` / ``W#<start>``).
    Returns None when it fits, else the seconds until the window resets (the hit is not counted).
    ``quota <= 0`` means unlimited."""
    if quota <= 0:
        return None
    window = max(1, window_seconds)
    moment = _clock() if now is None else now
    window_start = int(moment // window) * window
    if rate_windows.count_hit(counter, window_start, window, quota) is None:
        return max(1, math.ceil(window_start + window - moment))
    return None
