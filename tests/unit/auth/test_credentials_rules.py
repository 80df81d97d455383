"""Pure rules of issue 6: token shape, label validation, RateLimit field syntax, the MCP wait loop."""

from __future__ import annotations

from typing import Any

import pytest
from botscope.auth import tokens
from botscope.auth.principal import Principal
from botscope.errors import NotFound, RateLimited, ValidationFailed
from botscope.ratelimit import RateLimitState, _refuse
from botscope.service.api_keys import validate_label

PRINCIPAL = Principal(
    workspace_id="ws_1", plan="enterprise", workspace_status="active", actor_type="api_key", actor_id="key_1"
)


@pytest.mark.parametrize("prefix", ["dxk", "mcp", "bss"])
def test_every_single_character_typo_is_caught_offline(prefix):
    token = tokens.issue(prefix).token
    body_start = len(prefix) + 1
    misses = 0
    for i in range(body_start, len(token)):
        for replacement in "0aZ":
            if token[i] == replacement:
                continue
            if tokens.is_well_formed(token[:i] + replacement + token[i + 1 :], prefix):
                misses += 1
    # CRC32 detects every single-character substitution.
    assert misses == 0


def test_token_shape_and_hint_fields():
    issued = tokens.issue("dxk")
    assert issued.token.startswith("dxk_") and len(issued.token) == 4 + 30 + 6
    assert issued.prefix == issued.token[:8] and issued.last4 == issued.token[-4:]
    assert tokens.issue("dxk").token != issued.token
    with pytest.raises(ValueError):
        tokens.issue("sk")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("ci", "ci"), ("  deploy bot ", "deploy bot"), ("x" * 64, "x" * 64), ("clé ünïcode", "clé ünïcode")],
)
def test_valid_labels_are_trimmed(raw, clean):
    assert validate_label(raw) == clean


@pytest.mark.parametrize("raw", ["", "   ", "x" * 65, "line\nbreak", "nul\x00", 7, None])
def test_invalid_labels_name_the_field(raw):
    with pytest.raises(ValidationFailed) as failed:
        validate_label(raw)
    assert failed.value.errors[0]["field"] == "label"


def test_ratelimit_fields_follow_the_ietf_draft_syntax():
    state = RateLimitState("requests", quota=100, window_seconds=60, remaining=0, reset_seconds=30)
    refused = _refuse(state, "slow down")
    assert isinstance(refused, RateLimited) and refused.status == 429
    assert refused.headers == {
        "RateLimit-Policy": '"requests";q=100;w=60',
        "RateLimit": '"requests";r=0;t=30',
        "Retry-After": "30",
    }


class FakeScans:
    """Stands in for botscope.service.scans: statuses in order, then the last one forever."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.calls = 0

    def get_scan_status(self, principal: Principal, scan_job_id: str) -> dict[str, Any]:
        status = self.statuses[min(self.calls, len(self.statuses) - 1)]
        self.calls += 1
        return {
            "scan_job_id": scan_job_id,
            "status": status,
            "error": {"code": "x"} if status == "failed" else None,
        }

    def get_findings(self, principal: Principal, scan_job_id: str) -> dict[str, Any]:
        return {"scan_job_id": scan_job_id, "ruleset_version": "r1", "findings": [{"finding_id": "f"}]}


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def wait(
    monkeypatch, statuses: list[str], timeout: float, poll: float
) -> tuple[dict[str, Any], FakeTime, FakeScans]:
    from botscope.mcp import server
    from botscope.service import scans

    fake = FakeScans(statuses)
    monkeypatch.setattr(scans, "get_scan_status", fake.get_scan_status)
    monkeypatch.setattr(scans, "get_findings", fake.get_findings)
    fake_time = FakeTime()
    result = server.wait_for_scan(
        PRINCIPAL, "scan_1", timeout, poll, sleep=fake_time.sleep, clock=fake_time.clock
    )
    return result, fake_time, fake


def test_wait_returns_findings_once_completed(monkeypatch):
    result, fake_time, fake = wait(monkeypatch, ["queued", "running", "completed"], timeout=20, poll=2)
    assert result["done"] is True and result["status"] == "completed" and result["findings"]
    assert fake.calls == 3 and fake_time.sleeps == [2, 2]


def test_wait_reports_failure_without_raising(monkeypatch):
    result, _, _ = wait(monkeypatch, ["running", "failed"], timeout=20, poll=1)
    assert result["done"] is True and result["status"] == "failed" and result["error"] == {"code": "x"}


def test_wait_says_call_again_when_time_is_up_and_is_capped(monkeypatch):
    from botscope.mcp.server import MAX_WAIT_SECONDS

    result, fake_time, _ = wait(monkeypatch, ["running"], timeout=10_000, poll=4)
    assert result["done"] is False and result["status"] == "running" and "again" in result["message"]
    assert sum(fake_time.sleeps) == MAX_WAIT_SECONDS  # never past the API Gateway budget
    assert max(fake_time.sleeps) <= 4


def test_wait_propagates_not_found(monkeypatch):
    from botscope.mcp import server
    from botscope.service import scans

    def missing(principal: Principal, scan_job_id: str) -> dict[str, Any]:
        raise NotFound("No scan with this id in your workspace.")

    monkeypatch.setattr(scans, "get_scan_status", missing)
    with pytest.raises(NotFound):
        server.wait_for_scan(PRINCIPAL, "scan_x", 5, 1, sleep=lambda s: None, clock=lambda: 0.0)


def test_tool_error_carries_code_status_and_retry_hint():
    from botscope.errors import ScanNotReady
    from botscope.mcp.server import error_result

    result = error_result(ScanNotReady("The scan is running.", headers={"Retry-After": "5"}))
    assert result.is_error is True
    assert result.content[0].text.startswith("scan_not_ready (409): ")
    assert result.structured_content == {
        "error": {
            "code": "scan_not_ready",
            "status": 409,
            "title": "The scan has not finished yet",
            "detail": "The scan is running.",
            "retry_after_seconds": 5,
        }
    }
