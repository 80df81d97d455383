"""The issue's acceptance path: the MCP SDK's own client against /mcp of the whole local stack
(moto server, the scan workflow, uvicorn), scanning a fixture site on 127.0.0.1 for real."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.fixtures.site.server import FixtureSite

pytestmark = pytest.mark.e2e

ALL_TOOLS = {
    "create_api_key",
    "create_scan",
    "get_scan_status",
    "wait_for_scan_results",
    "get_scan_findings",
    "get_scan_report",
    "list_monitoring_subscriptions",
    "cancel_scan",
}
MAX_WAIT_CALLS = 20  # a liveness bound (each call waits at most a few seconds), not a speed assertion


def test_agent_scans_a_fixture_site_over_mcp_and_then_uses_http(
    local_stack: Any, clean_fixture_site: FixtureSite
) -> None:
    key = local_stack.credentials.enterprise_api_key

    async def flow() -> dict[str, Any]:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60)
        out: dict[str, Any] = {"waits": []}
        async with Client(streamable_http_client(f"{local_stack.base_url}/mcp", http_client=http)) as client:  # type: ignore[arg-type]
            out["tools"] = {tool.name for tool in (await client.list_tools()).tools}
            created = await client.call_tool(
                "create_scan", {"target_url": clean_fixture_site.url("/"), "scan_mode": "quick"}
            )
            assert not created.is_error, created.content
            scan_job_id = created.structured_content["scan_job_id"]
            out["created"] = created.structured_content
            for _ in range(MAX_WAIT_CALLS):
                waited = await client.call_tool(
                    "wait_for_scan_results",
                    {"scan_job_id": scan_job_id, "timeout_seconds": 5, "poll_interval_seconds": 1},
                )
                assert not waited.is_error, waited.content
                out["waits"].append(waited.structured_content)
                if waited.structured_content["done"]:
                    break
            out["findings"] = await client.call_tool("get_scan_findings", {"scan_job_id": scan_job_id})
            out["report"] = await client.call_tool("get_scan_report", {"scan_job_id": scan_job_id})
            out["new_key"] = await client.call_tool("create_api_key", {"label": "agent over http"})
        return out

    out = anyio.run(flow)
    assert out["tools"] == ALL_TOOLS
    final = out["waits"][-1]
    assert final["done"] is True and final["status"] == "completed", final
    assert final["scan"]["progress"]["percent"] == 100
    assert len(clean_fixture_site.requests) > 0  # the fixture site was really probed
    scan_job_id = out["created"]["scan_job_id"]
    assert out["findings"].structured_content["scan_job_id"] == scan_job_id
    assert out["findings"].structured_content["findings"] == final["findings"]
    assert out["report"].structured_content["scan_job_id"] == scan_job_id

    new_key = out["new_key"].structured_content["key"]
    with httpx.Client(
        base_url=local_stack.base_url, headers={"Authorization": f"Bearer {new_key}"}, timeout=30
    ) as http:
        scan = http.get(f"/api/v1/scans/{scan_job_id}")
        assert scan.status_code == 200 and scan.json()["status"] == "completed"
        findings = http.get(f"/api/v1/scans/{scan_job_id}/findings")
        assert findings.json()["findings"] == final["findings"]  # one service under both
