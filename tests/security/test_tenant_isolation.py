"""Tenant isolation: workspace A's credentials on workspace B's resources get 404 (never 403, never
data), on every route with a path parameter and every MCP tool that takes an id; listings of A
never contain B's items; destructive calls leave B's resources as they were.

The route list is not written by hand: the OpenAPI document is walked, and a route with a path
parameter that has no case here fails ``test_every_parametrized_route_is_covered`` (a new route
must say how B's resource is reached, or be declared public). The same goes for MCP tools with an
id argument (``tools/list``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.security.conftest import SecurityStack, security_stack_context

PUBLIC_IP = "93.184.215.14"  # never contacted: the API only resolves
PROBLEM_JSON = "application/problem+json"
ALLOWED_ORIGIN = "http://127.0.0.1:8000"  # the API's own origin (public_base_url)


def fake_resolver(host: str) -> list[str]:
    if host == "example.com" or host.endswith(".example.com"):
        return [PUBLIC_IP]
    raise OSError(f"{host}: does not resolve")


@dataclass
class Tenant:
    workspace_id: str
    key: str
    key_id: str
    session: str
    mcp_token: str
    ids: dict[str, str]

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Tenants:
    stack: SecurityStack
    a: Tenant
    b: Tenant


def _complete(scan_job_id: str, secret_marker: str) -> None:
    """Plays the workflow: path runs, a report in S3, status completed."""
    from botscope.store import reports, scans

    scans.mark_running(scan_job_id)
    runs = scans.put_path_runs(scan_job_id, [{"path": "/", "profile": "browser"}])
    scans.update_path_run(
        scan_job_id,
        runs[0].path_run_id,
        status="completed",
        outcome="served",
        http_status=200,
        duration_ms=12,
    )
    finding = {
        "finding_id": "fnd_b",
        "fingerprint": f"{secret_marker}:fp",
        "category": "bot_defense",
        "measure": "captcha",
        "status": "present",
        "severity": "low",
        "confidence": 0.9,
        "title": secret_marker,
        "summary": secret_marker,
        "vendor": "recaptcha",
        "layer": "client",
        "paths": ["/"],
        "profiles": ["browser"],
        "evidence": [{"signal": "script", "name": "x"}],
        "recommendation": "none",
    }
    report = {
        "schema_version": "1",
        "scan_job_id": scan_job_id,
        "ruleset_version": "test",
        "summary": {"posture": "basic", "score": 40},
        "findings": [finding],
        "marker": secret_marker,
    }
    key = reports.put_report(scan_job_id, report)
    assert scans.mark_completed(
        scan_job_id, report_key=key, ruleset_version="test", summary=report["summary"]
    )


def _tenant(stack: SecurityStack, name: str) -> Tenant:
    from botscope.store import credentials, workspaces

    ws = workspaces.create_workspace(f"tenant {name}", "enterprise")
    wid = ws.workspace_id
    key = credentials.create_api_key(wid, f"{name} key")
    session = credentials.create_session(wid, f"user:{name}")
    mcp = credentials.create_mcp_token(wid, f"{name} agent")
    tenant = Tenant(wid, key.secret, key.credential.api_key_id, session.secret, mcp.secret, {})
    client, auth = stack.client, tenant.bearer()
    done = client.post(
        "/api/v1/scans", headers=auth, json={"target_url": f"https://{name}-done.example.com/"}
    )
    assert done.status_code == 202, done.text
    tenant.ids["scan"] = done.json()["scan_job_id"]
    _complete(tenant.ids["scan"], f"SECRET-OF-{name}")
    shared = client.post(f"/api/v1/scans/{tenant.ids['scan']}/share", headers=auth)
    assert shared.status_code == 201, shared.text
    running = client.post(
        "/api/v1/scans",
        headers=auth,
        json={"target_url": f"https://{name}-watched.example.com/", "enroll_monitoring": True},
    )
    assert running.status_code == 202, running.text
    tenant.ids["running_scan"] = running.json()["scan_job_id"]
    tenant.ids["monitored_url"] = running.json()["monitoring"]["monitored_url_id"]
    hook = client.post(
        "/api/v1/webhooks",
        headers=auth,
        json={
            "label": f"{name} hook",
            "url": f"https://hooks.{name}.example.com/in",
            "event_types": ["scan.completed"],
        },
    )
    assert hook.status_code == 201, hook.text
    tenant.ids["webhook"] = hook.json()["webhook_id"]
    test_event = client.post(f"/api/v1/webhooks/{tenant.ids['webhook']}/test", headers=auth)
    assert test_event.status_code == 202, test_event.text
    spare = client.post("/api/v1/api-keys", headers=auth, json={"label": f"{name} spare"})
    assert spare.status_code == 201, spare.text
    tenant.ids["api_key"] = spare.json()["api_key_id"]
    return tenant


@pytest.fixture(scope="module")
def tenants() -> Iterator[Tenants]:
    from botscope.service import scans as scan_service
    from botscope.webhooks import urls

    with security_stack_context() as stack:
        saved = scan_service.target_resolver, urls.DEFAULT_RESOLVER
        scan_service.target_resolver = urls.DEFAULT_RESOLVER = fake_resolver
        try:
            yield Tenants(stack, _tenant(stack, "alpha"), _tenant(stack, "bravo"))
        finally:
            scan_service.target_resolver, urls.DEFAULT_RESOLVER = saved


# --- the routes: how B's resource fills each path parameter ----------------------------------------

# (method, OpenAPI path) -> which of B's ids fills the path parameter.
ROUTE_CASES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/scans/{scan_job_id}"): "scan",
    ("GET", "/api/v1/scans/{scan_job_id}/findings"): "scan",
    ("GET", "/api/v1/scans/{scan_job_id}/report"): "scan",
    ("POST", "/api/v1/scans/{scan_job_id}/share"): "scan",
    ("GET", "/api/v1/scans/{scan_job_id}/share"): "scan",
    ("DELETE", "/api/v1/scans/{scan_job_id}/share"): "scan",
    ("GET", "/api/v1/webhooks/{webhook_id}"): "webhook",
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): "webhook",
    ("POST", "/api/v1/webhooks/{webhook_id}/test"): "webhook",
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): "webhook",
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): "webhook",
    ("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret"): "webhook",
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): "webhook",
    ("DELETE", "/api/v1/monitoring/{monitored_url_id}"): "monitored_url",
    ("GET", "/api/v1/monitoring/{monitored_url_id}"): "monitored_url",
    ("PATCH", "/api/v1/monitoring/{monitored_url_id}"): "monitored_url",
    ("POST", "/api/v1/monitoring/{monitored_url_id}/rescan"): "monitored_url",
    ("POST", "/api/v1/scans/{scan_job_id}/cancel"): "scan",
    ("DELETE", "/api/v1/api-keys/{api_key_id}"): "api_key",
}
# Request bodies for routes that need one (without, the body validation would answer first).
ROUTE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): {"label": "renamed"}
}
# Not called by the owner control: destructive, or naming a second id the fixture does not have.
NOT_CONTROLLED = {("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")}
# Routes that change what they name: A's attempts on B's ids are checked, the owner control is not run.
CHANGING_ROUTES = {
    ("PATCH", "/api/v1/monitoring/{monitored_url_id}"),
    ("POST", "/api/v1/monitoring/{monitored_url_id}/rescan"),
    ("POST", "/api/v1/scans/{scan_job_id}/cancel"),
}
# Routes with a path parameter that are deliberately not tenant-scoped.
PUBLIC_ROUTES = {("GET", "/api/v1/sample-reports/{tab_id}")}
# Listings: A's view must not contain any of B's ids or URLs.
LIST_ROUTES = [
    "/api/v1/scans",
    "/api/v1/webhooks",
    "/api/v1/monitoring",
    "/api/v1/api-keys",
    "/api/v1/audit-log",
]
# Extra ways of naming B's resources (the running scan too, and a cursor).
EXTRA_READS = [
    "/api/v1/scans/{running_scan}",
    "/api/v1/scans/{running_scan}/findings",
    "/api/v1/scans/{running_scan}/report",
]


def _openapi_parametrized(client: Any) -> set[tuple[str, str]]:
    document = client.get("/api/v1/openapi.json").json()
    found = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method.upper() not in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                continue
            params = [p for p in operation.get("parameters", []) if p.get("in") == "path"]
            if params or "{" in path:
                found.add((method.upper(), path))
    return found


def test_every_parametrized_route_is_covered(tenants: Tenants):
    in_document = _openapi_parametrized(tenants.stack.client)
    assert in_document, "the OpenAPI document lists no parametrized route"
    uncovered = in_document - set(ROUTE_CASES) - PUBLIC_ROUTES
    assert not uncovered, f"routes without a tenant-isolation case: {sorted(uncovered)}"
    stale = (set(ROUTE_CASES) | PUBLIC_ROUTES) - in_document
    assert not stale, f"cases for routes that no longer exist: {sorted(stale)}"


def _fill(path: str, ids: dict[str, str], which: str) -> str:
    filled = path[: path.index("{")] + ids[which] + path[path.index("}") + 1 :]
    return filled.replace("{delivery_id}", "dlv_00000000000000000000000000")


def _b_secrets(t: Tenants) -> list[str]:
    """Strings that would reveal B: its ids, workspace, URLs and report marker."""
    return [
        *t.b.ids.values(),
        t.b.workspace_id,
        "bravo-done",
        "bravo-watched",
        "hooks.bravo",
        "SECRET-OF-bravo",
    ]


def _assert_not_found(response: Any, t: Tenants) -> None:
    assert response.status_code == 404, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["code"] == "not_found"
    for secret in _b_secrets(t):
        assert secret not in response.text, secret


CREDENTIALS = ["api_key", "session"]


def _auth(t: Tenant, credential: str, method: str) -> dict[str, Any]:
    if credential == "api_key":
        return {"headers": t.bearer()}
    headers = {"Origin": ALLOWED_ORIGIN} if method != "GET" else {}
    return {"headers": {**headers, "Cookie": f"botscope_session={t.session}"}}


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize(("method", "path"), sorted(ROUTE_CASES))
def test_a_cannot_reach_b_resources(tenants: Tenants, method: str, path: str, credential: str):
    t = tenants
    url = _fill(path, t.b.ids, ROUTE_CASES[(method, path)])
    response = t.stack.client.request(
        method, url, json=ROUTE_BODIES.get((method, path)), **_auth(t.a, credential, method)
    )
    _assert_not_found(response, t)


@pytest.mark.parametrize("path", EXTRA_READS)
def test_a_cannot_read_b_running_scan(tenants: Tenants, path: str):
    t = tenants
    url = path.replace("{running_scan}", t.b.ids["running_scan"])
    _assert_not_found(t.stack.client.get(url, headers=t.a.bearer()), t)


@pytest.mark.parametrize(
    ("method", "path"),
    sorted(
        c for c in ROUTE_CASES if c[0] != "DELETE" and c not in NOT_CONTROLLED and c not in CHANGING_ROUTES
    ),
)
def test_the_same_route_works_for_its_owner(tenants: Tenants, method: str, path: str):
    """The control: A's own ids on the same routes are found, so the 404 above is about tenancy.
    Destructive routes are not called; B's resources are checked intact below instead."""
    t = tenants
    url = _fill(path, t.a.ids, ROUTE_CASES[(method, path)])
    response = t.stack.client.request(
        method, url, headers=t.a.bearer(), json=ROUTE_BODIES.get((method, path))
    )
    assert response.status_code in (200, 201, 202), (response.status_code, response.text)


def test_b_resources_survive_a_destructive_calls(tenants: Tenants):
    """Runs after the DELETE / test-event attempts above (same module, file order)."""
    t = tenants
    client, b = t.stack.client, t.b.bearer()
    assert client.get(f"/api/v1/webhooks/{t.b.ids['webhook']}", headers=b).status_code == 200
    assert client.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {t.b.key}"}).status_code == 200
    assert t.b.ids["api_key"] in {
        k["api_key_id"] for k in client.get("/api/v1/api-keys", headers=b).json()["data"]
    }
    monitoring = client.get("/api/v1/monitoring", headers=b).json()
    assert t.b.ids["monitored_url"] in {m["monitored_url_id"] for m in monitoring["data"]}
    detail = client.get(f"/api/v1/monitoring/{t.b.ids['monitored_url']}", headers=b).json()
    assert detail["paused"] is False
    running = client.get(f"/api/v1/scans/{t.b.ids['running_scan']}", headers=b).json()
    assert running["status"] in ("queued", "running"), "A's cancel attempts left B's scan alone"
    deliveries = client.get(f"/api/v1/webhooks/{t.b.ids['webhook']}/deliveries", headers=b).json()["data"]
    assert len(deliveries) == 1, "A's test-event attempts queued nothing for B's webhook"


@pytest.mark.parametrize("path", LIST_ROUTES)
def test_a_listings_never_contain_b(tenants: Tenants, path: str):
    t = tenants
    response = t.stack.client.get(path, headers=t.a.bearer())
    assert response.status_code == 200, response.text
    for secret in _b_secrets(t):
        assert secret not in response.text, (path, secret)
    # and the listing is not simply empty: A's own items are there
    if path in ("/api/v1/scans", "/api/v1/webhooks", "/api/v1/monitoring", "/api/v1/api-keys"):
        assert response.json()["data"], path


def test_a_cursor_naming_b_scan_reveals_nothing(tenants: Tenants):
    t = tenants
    response = t.stack.client.get(
        "/api/v1/scans", params={"starting_after": t.b.ids["scan"]}, headers=t.a.bearer()
    )
    assert response.status_code in (200, 422)
    for secret in _b_secrets(t):
        assert secret not in response.text


def test_b_key_cannot_be_revoked_by_a_and_still_works(tenants: Tenants):
    t = tenants
    response = t.stack.client.get("/api/v1/scans", headers=t.b.bearer())
    assert response.status_code == 200
    assert t.b.ids["scan"] in response.text


# --- MCP ------------------------------------------------------------------------------------------

MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-06-18",
}
# tool -> arguments naming B's resource ({scan} is filled with B's completed scan id)
MCP_ID_TOOLS: dict[str, dict[str, Any]] = {
    "get_scan_status": {"scan_job_id": "{scan}"},
    "wait_for_scan_results": {"scan_job_id": "{scan}", "timeout_seconds": 1, "poll_interval_seconds": 1},
    "get_scan_findings": {"scan_job_id": "{scan}"},
    "get_scan_report": {"scan_job_id": "{scan}"},
    "cancel_scan": {"scan_job_id": "{scan}"},
}
MCP_NO_ID_TOOLS = {"create_api_key", "create_scan", "list_monitoring_subscriptions"}


def _mcp(client: Any, token: str, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    response = client.post(
        "/mcp", headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"}, content=json.dumps(message)
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_every_mcp_tool_with_an_id_is_covered(tenants: Tenants):
    tools = _mcp(tenants.stack.client, tenants.a.key, "tools/list")["result"]["tools"]
    names = {tool["name"] for tool in tools}
    assert names == set(MCP_ID_TOOLS) | MCP_NO_ID_TOOLS, names
    for tool in tools:
        id_args = {p for p in tool["inputSchema"].get("properties", {}) if p.endswith("_id")}
        if id_args:
            assert tool["name"] in MCP_ID_TOOLS, (
                f"MCP tool {tool['name']} takes {id_args} but has no isolation case"
            )


@pytest.mark.parametrize("token_kind", ["api_key", "mcp_token"])
@pytest.mark.parametrize("tool", sorted(MCP_ID_TOOLS))
def test_mcp_tools_give_a_not_found_for_b_resources(tenants: Tenants, tool: str, token_kind: str):
    t = tenants
    arguments = {k: (t.b.ids["scan"] if v == "{scan}" else v) for k, v in MCP_ID_TOOLS[tool].items()}
    token = t.a.key if token_kind == "api_key" else t.a.mcp_token
    result = _mcp(t.stack.client, token, "tools/call", {"name": tool, "arguments": arguments})["result"]
    assert result["isError"] is True
    assert result["structuredContent"]["error"]["code"] == "not_found"
    text = json.dumps(result)
    for secret in _b_secrets(t):
        if secret != t.b.ids["scan"]:  # an agent's own argument may be echoed back; nothing else
            assert secret not in text, secret


@pytest.mark.parametrize("tool", sorted(MCP_ID_TOOLS))
def test_mcp_tools_work_for_the_owner(tenants: Tenants, tool: str):
    t = tenants
    arguments = {k: (t.a.ids["scan"] if v == "{scan}" else v) for k, v in MCP_ID_TOOLS[tool].items()}
    result = _mcp(t.stack.client, t.a.mcp_token, "tools/call", {"name": tool, "arguments": arguments})[
        "result"
    ]
    assert not result.get("isError"), result


def test_mcp_monitoring_list_shows_only_a(tenants: Tenants):
    t = tenants
    result = _mcp(
        t.stack.client,
        t.a.mcp_token,
        "tools/call",
        {"name": "list_monitoring_subscriptions", "arguments": {}},
    )["result"]
    text = json.dumps(result)
    assert t.a.ids["monitored_url"] in text
    for secret in _b_secrets(t):
        assert secret not in text
