"""/mcp on a real uvicorn server, driven by the MCP SDK's own streamable-HTTP client."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from botscope.store import credentials
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.integration.mcp.conftest import SAMPLE_FINDING, complete_scan

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


def mcp_client(base_url: str, token: str, mode: str = "auto") -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    return Client(streamable_http_client(f"{base_url}/mcp", http_client=http), mode=mode)  # type: ignore[arg-type]


def run(coro_fn: Any) -> Any:
    return anyio.run(coro_fn)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_agent_flow_over_mcp(live_server, workspace_factory, mode):
    ws, key = workspace_factory("enterprise")

    async def flow() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with mcp_client(live_server, key, mode) as client:
            tools = (await client.list_tools()).tools
            out["tools"] = {t.name: t for t in tools}
            created = await client.call_tool(
                "create_scan",
                {"target_url": "https://www.example.com/", "scan_mode": "quick", "enroll_monitoring": True},
            )
            out["created"] = created
            scan_job_id = created.structured_content["scan_job_id"]
            out["status"] = await client.call_tool("get_scan_status", {"scan_job_id": scan_job_id})
            out["waiting"] = await client.call_tool(
                "wait_for_scan_results",
                {"scan_job_id": scan_job_id, "timeout_seconds": 1, "poll_interval_seconds": 1},
            )
            out["not_ready"] = await client.call_tool("get_scan_findings", {"scan_job_id": scan_job_id})
            await anyio.to_thread.run_sync(complete_scan, scan_job_id, [SAMPLE_FINDING])
            out["done"] = await client.call_tool("wait_for_scan_results", {"scan_job_id": scan_job_id})
            out["findings"] = await client.call_tool("get_scan_findings", {"scan_job_id": scan_job_id})
            out["report"] = await client.call_tool("get_scan_report", {"scan_job_id": scan_job_id})
            out["monitoring"] = await client.call_tool("list_monitoring_subscriptions", {})
            out["new_key"] = await client.call_tool("create_api_key", {"label": "agent http key"})
        return out

    out = run(flow)
    tools = out["tools"]
    assert set(tools) == ALL_TOOLS
    for name in ALL_TOOLS - {"create_api_key", "create_scan", "cancel_scan"}:
        assert tools[name].annotations.read_only_hint is True, name
        assert tools[name].annotations.destructive_hint is False, name
    assert tools["create_scan"].annotations.read_only_hint is False
    assert tools["create_api_key"].annotations.destructive_hint is True
    wait_schema = tools["wait_for_scan_results"].input_schema["properties"]
    assert "maximum" not in wait_schema["timeout_seconds"]  # clamped by the tool (test_mcp_wait_bounds.py)
    assert tools["create_scan"].input_schema["required"] == ["target_url"]
    assert all(len(t.description or "") > 80 for t in tools.values())

    created = out["created"]
    assert not created.is_error
    assert created.structured_content["status"] == "queued"
    assert created.structured_content["target_url"].startswith("https://www.example.com")
    assert out["status"].structured_content["scan_job_id"] == created.structured_content["scan_job_id"]
    waiting = out["waiting"].structured_content
    assert waiting["done"] is False and "call wait_for_scan_results again" in waiting["message"].lower()
    assert out["not_ready"].is_error and out["not_ready"].content[0].text.startswith("scan_not_ready")

    done = out["done"].structured_content
    assert done["done"] is True and done["status"] == "completed"
    assert done["findings"][0]["fingerprint"] == SAMPLE_FINDING["fingerprint"]
    assert out["findings"].structured_content["findings"] == [SAMPLE_FINDING]
    assert out["report"].structured_content["summary"] == {"score": 0.5}
    monitored = out["monitoring"].structured_content
    assert not out["monitoring"].is_error and monitored["slots"]["limit"] is None  # enterprise: no cap
    assert [m["target_url"] for m in monitored["data"]] == [created.structured_content["target_url"]]

    new_key = out["new_key"].structured_content
    assert new_key["key"].startswith("dxk_")
    # The key minted over MCP works over plain HTTP, for this workspace's scans.
    scan_id = created.structured_content["scan_job_id"]
    with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {new_key['key']}"}) as http:
        assert http.get(f"/api/v1/scans/{scan_id}").json()["status"] == "completed"
        assert new_key["api_key_id"] in http.get("/api/v1/api-keys").text


def test_other_workspace_scan_is_not_found_over_mcp_and_http(live_server, workspace_factory):
    _, key_a = workspace_factory("enterprise")
    ws_b, key_b = workspace_factory("enterprise")
    mcp_token_b = credentials.create_mcp_token(ws_b["workspace_id"], "agent b").secret

    async def flow() -> tuple[Any, ...]:
        async with mcp_client(live_server, mcp_token_b) as client_b:
            created = await client_b.call_tool("create_scan", {"target_url": "https://example.com"})
        scan_id = created.structured_content["scan_job_id"]
        async with mcp_client(live_server, key_a) as client_a:
            results = [
                await client_a.call_tool(name, {"scan_job_id": scan_id})
                for name in (
                    "get_scan_status",
                    "get_scan_findings",
                    "get_scan_report",
                    "wait_for_scan_results",
                )
            ]
        return scan_id, results

    scan_id, results = run(flow)
    for result in results:
        assert result.is_error
        assert result.structured_content["error"]["code"] == "not_found"
        assert scan_id not in result.content[0].text
    with httpx.Client(base_url=live_server) as http:
        response = http.get(f"/api/v1/scans/{scan_id}", headers={"Authorization": f"Bearer {key_a}"})
        assert response.status_code == 404
        assert (
            http.get(f"/api/v1/scans/{scan_id}", headers={"Authorization": f"Bearer {key_b}"}).status_code
            == 200
        )


def test_mcp_refuses_missing_malformed_and_revoked_tokens(live_server, workspace_factory):
    ws, key = workspace_factory("growth")
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
    with httpx.Client(base_url=live_server, headers=headers) as http:
        missing = http.post("/mcp", json=body)
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        bad = http.post("/mcp", json=body, headers={"Authorization": "Bearer mcp_not-a-token"})
        assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
        assert bad.json()["code"] == "unauthorized"
        ok = http.post("/mcp", json=body, headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200 and len(ok.json()["result"]["tools"]) == 8
        key_id = credentials.list_api_keys(ws["workspace_id"])[0].api_key_id
        assert credentials.revoke_api_key(ws["workspace_id"], key_id) is not None
        revoked = http.post("/mcp", json=body, headers={"Authorization": f"Bearer {key}"})
        assert revoked.status_code == 401
        foreign = http.post(
            "/mcp", json=body, headers={"Authorization": f"Bearer {key}", "Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403


def test_plan_rules_are_the_same_over_mcp(live_server, workspace_factory):
    _, starter_key = workspace_factory("starter")
    _, growth_key = workspace_factory("growth")

    async def flow() -> tuple[Any, Any, Any]:
        async with mcp_client(live_server, starter_key) as client:
            starter = await client.call_tool("create_scan", {"target_url": "https://example.com"})
        async with mcp_client(live_server, growth_key) as client:
            growth = await client.call_tool("create_scan", {"target_url": "https://example.com"})
            private = await client.call_tool(
                "create_scan", {"target_url": "http://127.0.0.1:9/", "enroll_monitoring": True}
            )
        return starter, growth, private

    starter, growth, private = run(flow)
    assert starter.is_error and starter.content[0].text.startswith("plan_required")
    assert growth.is_error and growth.structured_content["error"]["code"] == "url_not_monitored"
    assert private.is_error and private.structured_content["error"]["code"] == "target_not_public"
    assert json.dumps(private.structured_content)  # serialisable, no exception objects


def test_get_and_delete_are_405_instead_of_holding_a_stream_open(live_server, workspace_factory):
    _, key = workspace_factory("growth")
    headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
    with httpx.Client(base_url=live_server, headers=headers, timeout=10) as http:
        for method in ("GET", "DELETE"):
            response = http.request(method, "/mcp")
            assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_an_mcp_token_cannot_mint_an_api_key(live_server, workspace_factory):
    # An mcp_ token is confined to /mcp; a dxk_ key it minted would reach the whole HTTP API and
    # outlive the token's revocation. Only a credential with the "api" scope may create keys.
    ws, key = workspace_factory("enterprise")
    mcp_token = credentials.create_mcp_token(ws["workspace_id"], "agent").secret

    async def flow() -> tuple[Any, Any]:
        async with mcp_client(live_server, mcp_token) as client:
            refused = await client.call_tool("create_api_key", {"label": "escalation"})
        async with mcp_client(live_server, key) as client:
            allowed = await client.call_tool("create_api_key", {"label": "from a dxk key"})
        return refused, allowed

    refused, allowed = run(flow)
    assert refused.is_error
    assert refused.structured_content["error"]["code"] == "insufficient_scope"
    assert refused.structured_content["error"]["status"] == 403
    assert not allowed.is_error
    labels = [k.label for k in credentials.list_api_keys(ws["workspace_id"])]
    assert "escalation" not in labels
    assert "from a dxk key" in labels


def test_cancel_scan_tool_cancels_once_and_is_destructive(live_server, workspace_factory):
    _, key = workspace_factory("enterprise")
    _, other_key = workspace_factory("enterprise")

    async def flow() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with mcp_client(live_server, key) as client:
            out["tools"] = {t.name: t for t in (await client.list_tools()).tools}
            created = await client.call_tool("create_scan", {"target_url": "https://example.com/"})
            scan_job_id = created.structured_content["scan_job_id"]
            out["first"] = await client.call_tool("cancel_scan", {"scan_job_id": scan_job_id})
            out["second"] = await client.call_tool("cancel_scan", {"scan_job_id": scan_job_id})
        async with mcp_client(live_server, other_key) as other:
            out["foreign"] = await other.call_tool("cancel_scan", {"scan_job_id": scan_job_id})
        return out

    out = run(flow)
    annotations = out["tools"]["cancel_scan"].annotations
    assert annotations.destructive_hint is True and annotations.read_only_hint is False
    first = out["first"].structured_content
    assert not out["first"].is_error and first["status"] == "cancelled" and first["cancelled_now"] is True
    assert out["second"].structured_content["cancelled_now"] is False
    assert out["foreign"].is_error and out["foreign"].structured_content["error"]["code"] == "not_found"


def test_invalid_arguments_come_back_in_the_domain_error_shape(live_server, workspace_factory):
    _, key = workspace_factory("enterprise")

    async def flow() -> list[Any]:
        async with mcp_client(live_server, key) as client:
            return [
                await client.call_tool(
                    "create_scan", {"target_url": "https://example.com/", "scan_mode": "deep"}
                ),
                await client.call_tool(
                    "wait_for_scan_results", {"scan_job_id": "scan_x", "timeout_seconds": "soon"}
                ),
                await client.call_tool("get_scan_status", {}),
            ]

    deep, not_a_number, missing = run(flow)
    for result, field in ((deep, "scan_mode"), (not_a_number, "timeout_seconds"), (missing, "scan_job_id")):
        assert result.is_error
        error = result.structured_content["error"]
        assert error["code"] == "validation_error" and error["status"] == 422
        assert [e["field"] for e in error["errors"]] == [field]
        assert result.content[0].text.startswith("validation_error (422)")
        assert "pydantic" not in result.content[0].text and "http" not in result.content[0].text
