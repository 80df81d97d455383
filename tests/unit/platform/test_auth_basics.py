from botscope.auth import tokens


def test_issued_token_is_well_formed_and_typo_is_not():
    issued = tokens.issue("dxk")
    assert tokens.is_well_formed(issued.token, "dxk")
    # Given a single mistyped character, the checksum rejects it without any lookup.
    broken = issued.token[:-8] + ("A" if issued.token[-8] != "A" else "B") + issued.token[-7:]
    assert not tokens.is_well_formed(broken, "dxk")
    assert not tokens.is_well_formed(issued.token, "mcp")
    assert issued.token_hash != issued.token and len(issued.token_hash) == 64


def test_api_rejects_missing_and_unknown_keys(api_client, workspace_factory):
    ws, key = workspace_factory("growth")
    assert api_client.get("/api/v1/health").status_code == 200
    # the health route needs no key; an authenticated route is exercised by the scans tests
    unknown = tokens.issue("dxk").token
    from botscope.api.deps import authenticate_api_key
    from botscope.errors import Unauthorized
    from fastapi import Request

    scope = {"type": "http", "method": "GET", "headers": [], "path": "/", "client": ("127.0.0.1", 1)}
    req = Request(scope)
    try:
        authenticate_api_key(unknown, req)
        raise AssertionError("unknown key accepted")
    except Unauthorized:
        pass
    principal = authenticate_api_key(key, req)
    assert principal.workspace_id == ws["workspace_id"] and principal.plan == "growth"


def test_a_client_request_id_is_echoed_apart_only_when_short_and_plain(api_client):
    """The request id is always the server's; a caller's id comes back as X-Client-Request-Id."""
    plain = api_client.get("/api/v1/health", headers={"X-Request-Id": "trace-42.a:b"})
    assert plain.headers["x-request-id"].startswith("req_")
    assert plain.headers["x-client-request-id"] == "trace-42.a:b"
    hostile = api_client.get("/api/v1/health", headers={"X-Request-Id": "x" * 5000})
    assert hostile.headers["x-request-id"].startswith("req_") and len(hostile.headers["x-request-id"]) < 64
    assert "x-client-request-id" not in hostile.headers
    injected = api_client.get("/api/v1/health", headers={"X-Request-Id": "a b<script>"})
    assert (
        injected.headers["x-request-id"].startswith("req_") and "x-client-request-id" not in injected.headers
    )


def test_credentials_are_checked_before_the_body(api_client, workspace_factory):
    """A caller without a valid credential learns nothing about body validation: 401 first."""
    _, key = workspace_factory("enterprise")
    for path in ("/api/v1/scans", "/api/v1/webhooks", "/api/v1/api-keys"):
        for body in ("{not json", '{"target_url": 5}'):
            anonymous = api_client.post(path, content=body, headers={"Content-Type": "application/json"})
            assert anonymous.status_code == 401, (path, body, anonymous.text)
            assert anonymous.headers["content-type"].startswith("application/problem+json")
            assert "WWW-Authenticate" in anonymous.headers
    # An authenticated caller gets the body error itself.
    authed = api_client.post(
        "/api/v1/scans",
        content="{not json",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    assert authed.status_code in (400, 422) and authed.json()["code"] in ("bad_request", "validation_error")
