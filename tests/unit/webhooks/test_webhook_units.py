"""Signing, schedule and delivery messages, without network or AWS (the pinned request is the
scanner client's: tests/unit/scanner/test_fetch.py, tests/security/test_ssrf_suite.py)."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta

import pytest
from botscope.config import Settings
from botscope.webhooks import delivery, schedule, signing
from standardwebhooks.webhooks import Webhook


def test_signatures_verify_with_the_official_package_and_tampering_fails():
    secret = signing.generate_secret()
    assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"))) <= 64
    body = b'{"type":"scan.completed","timestamp":"2026-01-01T00:00:00Z","data":{"scan_job_id":"scan_1"}}'
    ts = int(datetime.now(UTC).timestamp())
    headers = signing.headers(secret, "evt_01abc", ts, body)
    assert Webhook(secret).verify(body, headers)["data"] == {"scan_job_id": "scan_1"}
    assert signing.verify(secret, "evt_01abc", ts, body, headers["webhook-signature"])
    assert not signing.verify(secret, "evt_01abd", ts, body, headers["webhook-signature"])
    with pytest.raises(Exception):  # noqa: B017
        Webhook(signing.generate_secret()).verify(body, headers)
    with pytest.raises(ValueError):
        signing.sign(secret, "evt.1", ts, body)  # ids must not contain the separator


def test_schedule_parsing_and_defaults():
    assert schedule.retry_schedule(Settings(webhook_retry_schedule="1,2,4,8")) == (1, 2, 4, 8)
    assert schedule.max_attempts(Settings(webhook_retry_schedule="1,2,4,8")) == 5
    production = schedule.retry_schedule(Settings(webhook_retry_schedule=""))
    assert 20 * 3600 <= sum(production) <= 28 * 3600  # "about a day"
    assert list(production) == sorted(production)  # backs off
    with pytest.raises(ValueError):
        schedule.retry_schedule(Settings(webhook_retry_schedule="1,-2"))


def test_delays_have_bounded_jitter_and_honour_retry_after():
    rng = random.Random(7)
    delays = [schedule.delay_before_attempt(3, schedule=(10, 100), rng=rng) for _ in range(200)]
    assert all(80 <= d <= 120 for d in delays) and len({round(d, 3) for d in delays}) > 50
    assert schedule.delay_before_attempt(2, retry_after=600, schedule=(10,), rng=rng) == 600
    assert schedule.delay_before_attempt(2, retry_after=1, schedule=(10,), rng=rng) >= 8
    capped = schedule.delay_before_attempt(2, retry_after=10**9, schedule=(10,), rng=rng)
    assert capped == schedule.MAX_RETRY_AFTER_SECONDS
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert schedule.parse_retry_after("120") == 120
    assert (
        schedule.parse_retry_after(
            (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT"), now=now
        )
        == 90
    )
    assert schedule.parse_retry_after("soon") is None and schedule.parse_retry_after(None) is None


def test_messages_parse_strictly():
    body = delivery.DeliveryMessage("evt_1", "wh_1", "ws_1", 2, None).body()
    assert delivery.DeliveryMessage.parse(body).attempt == 2
    for bad in ["{oops", "{}", '{"event_id":"e","webhook_id":"w","workspace_id":"s","attempt":0}']:
        with pytest.raises(ValueError):
            delivery.DeliveryMessage.parse(bad)
