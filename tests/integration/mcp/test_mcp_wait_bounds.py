"""wait_for_scan_results bounds its wait instead of refusing a long timeout: an agent that asks to
wait 50 s gets the longest wait one call allows (botscope.mcp.server.MAX_WAIT_SECONDS), told how
long it waited and that it may call again (docs/api.md "MCP")."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from botscope.mcp import server
from botscope.mcp.server import MAX_WAIT_SECONDS

from tests.integration.mcp.conftest import SAMPLE_FINDING, complete_scan
from tests.integration.mcp.test_mcp_live import mcp_client
from tests.unit.auth.test_credentials_rules import PRINCIPAL, FakeScans, FakeTime


def test_a_timeout_over_the_maximum_is_accepted_by_the_tool(live_server: str, workspace_factory: Any) -> None:
    _, key = workspace_factory("enterprise")

    async def flow() -> tuple[Any, Any, dict[str, Any]]:
        async with mcp_client(live_server, key) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            created = await client.call_tool(
                "create_scan", {"target_url": "https://www.example.com/", "scan_mode": "quick"}
            )
            scan_job_id = created.structured_content["scan_job_id"]
            await anyio.to_thread.run_sync(complete_scan, scan_job_id, [SAMPLE_FINDING])
            waited = await client.call_tool(
                "wait_for_scan_results",
                {"scan_job_id": scan_job_id, "timeout_seconds": 50, "poll_interval_seconds": 0.01},
            )
            return tools["wait_for_scan_results"], waited, created.structured_content

    tool, waited, created = anyio.run(flow)
    assert not waited.is_error, waited.content
    result = waited.structured_content
    assert result["done"] is True and result["status"] == "completed"
    assert result["scan"]["scan_job_id"] == created["scan_job_id"]
    assert result["findings"][0]["fingerprint"] == SAMPLE_FINDING["fingerprint"]
    assert result["waited_seconds"] >= 0
    assert (
        str(MAX_WAIT_SECONDS) in tool.description
        and "maximum" not in tool.input_schema["properties"]["timeout_seconds"]
    )


@pytest.mark.parametrize(
    ("asked", "expected_wait"), [(50, MAX_WAIT_SECONDS), (10_000, MAX_WAIT_SECONDS), (7, 7), (-3, 0)]
)
def test_the_wait_is_clamped_and_the_result_says_how_long_and_to_call_again(
    monkeypatch: pytest.MonkeyPatch, asked: int, expected_wait: int
) -> None:
    from botscope.service import scans

    fake = FakeScans(["running"])
    monkeypatch.setattr(scans, "get_scan_status", fake.get_scan_status)
    fake_time = FakeTime()
    result = server.wait_for_scan(
        PRINCIPAL, "scan_1", asked, 0.001, sleep=fake_time.sleep, clock=fake_time.clock
    )
    assert result["done"] is False and result["status"] == "running"
    assert result["waited_seconds"] == expected_wait and sum(fake_time.sleeps) == expected_wait
    assert min(fake_time.sleeps, default=1.0) >= server.MIN_POLL_SECONDS  # the poll interval is clamped too
    assert result["max_wait_seconds"] == MAX_WAIT_SECONDS
    assert f"waited {expected_wait:g} s" in result["message"].lower()
    assert "call wait_for_scan_results again" in result["message"].lower()
    assert (f"{asked:g} s asked for" in result["message"]) is (asked > MAX_WAIT_SECONDS)
