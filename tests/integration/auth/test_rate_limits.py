"""429 rate_limited with Retry-After and the IETF RateLimit fields: per credential request rate
(HTTP and /mcp), per workspace concurrent scans (reads stay allowed)."""

from __future__ import annotations

import re
import time

import pytest
from botscope import ratelimit
from botscope.config import reset_settings

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
FIXED_NOW = (time.time() // 60) * 60 + 10  # 10 s into the current 60 s window


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def limits(monkeypatch):
    def set_limits(**values: int) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"BOTSCOPE_{name.upper()}", str(value))
        reset_settings()

    monkeypatch.setattr(ratelimit, "_clock", lambda: FIXED_NOW)  # the window cannot roll over mid-test
    yield set_limits
    reset_settings()


def test_request_rate_per_credential_is_429_with_headers(api_client, workspace_factory, limits):
    limits(rate_limit_requests=3, rate_limit_window_seconds=60)
    ws, key = workspace_factory("growth")
    remaining = []
    for _ in range(3):
        ok = api_client.get("/api/v1/api-keys", headers=bearer(key))
        assert ok.status_code == 200
        assert ok.headers["ratelimit-policy"] == '"requests";q=3;w=60'
        remaining.append(re.search(r";r=(\d+);", ok.headers["ratelimit"]).group(1))
    assert remaining == ["2", "1", "0"]

    refused = api_client.get("/api/v1/api-keys", headers=bearer(key))
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert refused.headers["retry-after"] == "50"
    assert refused.headers["ratelimit"] == '"requests";r=0;t=50'
    assert refused.headers["ratelimit-policy"] == '"requests";q=3;w=60'

    # Per credential: another key of the same workspace has its own budget.
    from botscope.store import credentials

    other = credentials.create_api_key(ws["workspace_id"], "second").secret
    assert api_client.get("/api/v1/api-keys", headers=bearer(other)).status_code == 200
    # The next window starts a fresh count.
    import botscope.ratelimit as rl

    rl._clock = lambda: FIXED_NOW + 60  # restored by the fixture's monkeypatch
    assert api_client.get("/api/v1/api-keys", headers=bearer(key)).status_code == 200


def test_mcp_requests_count_against_the_same_credential(api_client, workspace_factory, limits):
    limits(rate_limit_requests=2)
    _, key = workspace_factory("growth")
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    assert api_client.get("/api/v1/api-keys", headers=bearer(key)).status_code == 200
    assert api_client.post("/mcp", json=body, headers={**MCP_HEADERS, **bearer(key)}).status_code == 200
    refused = api_client.post("/mcp", json=body, headers={**MCP_HEADERS, **bearer(key)})
    assert refused.status_code == 429 and refused.headers["retry-after"] == "50"
    assert refused.headers["ratelimit-policy"].startswith('"requests";q=2')


def test_unauthenticated_requests_do_not_touch_the_counter(api_client, workspace_factory, limits):
    limits(rate_limit_requests=1)
    _, key = workspace_factory("growth")
    for _ in range(3):
        assert api_client.get("/api/v1/api-keys", headers=bearer(key[:-1] + "0")).status_code == 401
    assert api_client.get("/api/v1/api-keys", headers=bearer(key)).status_code == 200


def test_concurrent_scans_are_limited_but_reads_and_reuse_are_not(
    api_client, workspace_factory, limits, scan_edges
):
    limits(max_concurrent_scans=1)
    _, key = workspace_factory("enterprise")
    first = api_client.post("/api/v1/scans", json={"target_url": "https://example.com"}, headers=bearer(key))
    assert first.status_code == 202
    second = api_client.post(
        "/api/v1/scans", json={"target_url": "https://www.example.com"}, headers=bearer(key)
    )
    assert second.status_code == 429 and second.json()["code"] == "rate_limited"
    assert int(second.headers["retry-after"]) > 0
    assert second.headers["ratelimit-policy"].startswith('"concurrent-scans";q=1')
    scan_id = first.json()["scan_job_id"]
    assert api_client.get(f"/api/v1/scans/{scan_id}", headers=bearer(key)).status_code == 200
    assert api_client.get("/api/v1/scans", headers=bearer(key)).status_code == 200
    again = api_client.post("/api/v1/scans", json={"target_url": "https://example.com"}, headers=bearer(key))
    assert again.status_code == 200 and again.json()["scan_job_id"] == scan_id  # the running scan, not a 429


def test_scan_concurrency_counts_live_markers(workspace_factory, limits):
    from botscope.auth.principal import Principal
    from botscope.store import scans

    limits(max_concurrent_scans=2)
    ws, _ = workspace_factory("enterprise")
    principal = Principal(
        workspace_id=ws["workspace_id"],
        plan="enterprise",
        workspace_status="active",
        actor_type="api_key",
        actor_id="key_test",
    )
    ratelimit.check_scan_concurrency(principal)
    assert scans.claim_active(ws["workspace_id"], "https://a.example.com/", "scan_a") is None
    ratelimit.check_scan_concurrency(principal)
    assert scans.claim_active(ws["workspace_id"], "https://b.example.com/", "scan_b") is None
    with pytest.raises(ratelimit.RateLimited) as refused:
        ratelimit.check_scan_concurrency(principal)
    assert refused.value.headers["Retry-After"] == str(ratelimit.SCAN_RETRY_AFTER_SECONDS)
    assert ratelimit.running_scan_count(ws["workspace_id"]) == 2
    # Expired markers (their scan timed out) no longer count.
    assert ratelimit.running_scan_count(ws["workspace_id"], now=FIXED_NOW + 10**8) == 0
    assert scans.release_active(ws["workspace_id"], "https://a.example.com/", "scan_a")
    ratelimit.check_scan_concurrency(principal)
