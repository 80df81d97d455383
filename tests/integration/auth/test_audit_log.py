"""The audit log: each credential, scan-start and monitoring action with the right actor, request id
and source; cursor pagination; enterprise only; per workspace."""

from __future__ import annotations

from botscope.store import credentials

ORIGIN = "http://127.0.0.1:8000"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def key_id_of(workspace_id: str, label: str) -> str:
    return next(
        k.api_key_id
        for k in credentials.list_api_keys(workspace_id, include_revoked=True)
        if k.label == label
    )


def all_records(client, key: str) -> list[dict]:
    records, cursor = [], None
    while True:
        params = {"limit": 2} | ({"starting_after": cursor} if cursor else {})
        page = client.get("/api/v1/audit-log", params=params, headers=bearer(key))
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["data"]) <= 2
        records.extend(body["data"])
        if not body["has_more"]:
            return records
        cursor = body["data"][-1]["audit_id"]


def test_audit_log_shows_each_action_with_its_actor(api_client, workspace_factory, scan_edges):
    ws, key = workspace_factory("enterprise")
    wsid = ws["workspace_id"]
    owner_key_id = key_id_of(wsid, "test key")
    session = credentials.create_session(wsid, "user:owner@example.test")
    mcp_token = credentials.create_mcp_token(wsid, "agent")

    created = api_client.post("/api/v1/api-keys", json={"label": "ci"}, headers=bearer(key))
    assert created.status_code == 201
    create_request_id = created.headers["x-request-id"]
    api_client.cookies.set("botscope_session", session.secret)
    revoked = api_client.delete(
        f"/api/v1/api-keys/{created.json()['api_key_id']}", headers={"Origin": ORIGIN}
    )
    assert revoked.status_code == 204
    api_client.cookies.clear()
    started = api_client.post(
        "/api/v1/scans",
        json={"target_url": "https://example.com", "enroll_monitoring": True},
        headers=bearer(key),
    )
    assert started.status_code == 202, started.text
    via_mcp = api_client.post(
        "/mcp",
        headers={**MCP_HEADERS, **bearer(mcp_token.secret)},
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "create_scan", "arguments": {"target_url": "https://www.example.com"}},
        },
    )
    assert via_mcp.status_code == 200 and not via_mcp.json()["result"].get("isError"), via_mcp.text
    mcp_scan_id = via_mcp.json()["result"]["structuredContent"]["scan_job_id"]

    records = all_records(api_client, key)
    assert len({r["audit_id"] for r in records}) == len(records)  # pages do not overlap
    assert [r["audit_id"] for r in records] == sorted((r["audit_id"] for r in records), reverse=True)
    by_action: dict[str, list[dict]] = {}
    for record in records:
        by_action.setdefault(record["action"], []).append(record)

    (key_created,) = by_action["key.created"]
    assert key_created["actor"] == f"api_key:{owner_key_id}"
    assert key_created["target"] == created.json()["api_key_id"]
    assert key_created["request_id"] == create_request_id and key_created["source_ip"]
    (key_revoked,) = by_action["key.revoked"]
    assert key_revoked["actor"] == f"session:{session.credential.session_id}"
    (enrolled,) = by_action["monitoring.enrolled"]
    assert enrolled["actor"] == f"api_key:{owner_key_id}" and enrolled["target"].startswith("mon_")
    scan_starts = {r["target"]: r["actor"] for r in by_action["scan.started"]}
    assert scan_starts == {
        started.json()["scan_job_id"]: f"api_key:{owner_key_id}",
        mcp_scan_id: f"mcp_token:{mcp_token.credential.mcp_token_id}",
    }
    assert not any(created.json()["key"] in str(r) for r in records)  # never a secret


def test_audit_log_is_enterprise_only_and_per_workspace(api_client, workspace_factory):
    _, growth_key = workspace_factory("growth")
    _, starter_key = workspace_factory("starter")
    ws_other, other_key = workspace_factory("enterprise")
    _, ent_key = workspace_factory("enterprise")
    assert (
        api_client.post("/api/v1/api-keys", json={"label": "x"}, headers=bearer(growth_key)).status_code
        == 201
    )
    for key in (growth_key, starter_key):
        denied = api_client.get("/api/v1/audit-log", headers=bearer(key))
        assert denied.status_code == 403 and denied.json()["code"] == "plan_required"
    assert (
        api_client.post("/api/v1/api-keys", json={"label": "y"}, headers=bearer(other_key)).status_code == 201
    )
    assert (
        api_client.get("/api/v1/audit-log", headers=bearer(other_key)).json()["data"][0]["action"]
        == "key.created"
    )
    assert api_client.get("/api/v1/audit-log", headers=bearer(ent_key)).json() == {
        "data": [],
        "has_more": False,
    }


def test_audit_log_rejects_bad_cursor_and_limit(api_client, workspace_factory):
    _, key = workspace_factory("enterprise")
    assert (
        api_client.get(
            "/api/v1/audit-log", params={"starting_after": "scan_x"}, headers=bearer(key)
        ).status_code
        == 422
    )
    assert api_client.get("/api/v1/audit-log", params={"limit": 0}, headers=bearer(key)).status_code == 422
    assert api_client.get("/api/v1/audit-log", params={"limit": 101}, headers=bearer(key)).status_code == 422


def test_cancelled_enterprise_workspace_cannot_read_the_audit_log(api_client, workspace_factory):
    from botscope.store import workspaces

    ws, key = workspace_factory("enterprise")
    workspaces.set_workspace_status(ws["workspace_id"], "cancelled")
    response = api_client.get("/api/v1/audit-log", headers=bearer(key))
    assert response.status_code == 403 and response.json()["code"] == "plan_required"
