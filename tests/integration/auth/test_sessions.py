"""The botscope_session cookie: hashed, expiring, and CSRF-checked on unsafe methods."""

from __future__ import annotations

from botscope.store import credentials
from botscope.store.table import table

ORIGIN = "http://127.0.0.1:8000"  # the API's own origin (public_base_url default)


def session_for(ws: dict, **kwargs) -> str:
    return credentials.create_session(ws["workspace_id"], "user:owner@example.test", **kwargs).secret


def test_session_manages_keys_with_allowed_origin(api_client, workspace_factory):
    ws, _ = workspace_factory("growth")
    api_client.cookies.set("botscope_session", session_for(ws))
    assert api_client.get("/api/v1/api-keys").status_code == 200
    created = api_client.post("/api/v1/api-keys", json={"label": "from browser"}, headers={"Origin": ORIGIN})
    assert created.status_code == 201
    revoked = api_client.delete(
        f"/api/v1/api-keys/{created.json()['api_key_id']}", headers={"Origin": ORIGIN}
    )
    assert revoked.status_code == 204


def test_cookie_post_without_allowed_origin_is_403_csrf(api_client, workspace_factory):
    ws, _ = workspace_factory("growth")
    api_client.cookies.set("botscope_session", session_for(ws))
    for headers in ({}, {"Origin": "https://evil.example"}, {"Origin": "null"}):
        response = api_client.post("/api/v1/api-keys", json={"label": "x"}, headers=headers)
        assert response.status_code == 403 and response.json()["code"] == "csrf"
    assert api_client.get("/api/v1/api-keys").json()["data"][0]["label"] == "test key"  # nothing was created


def test_extra_allowed_origin_from_settings(aws, workspace_factory, monkeypatch):
    from botscope.api.app import create_app
    from botscope.config import reset_settings
    from fastapi.testclient import TestClient

    monkeypatch.setenv("BOTSCOPE_ALLOWED_ORIGINS", "https://app.botscope.test")
    reset_settings()
    ws, _ = workspace_factory("growth")
    with TestClient(create_app(), base_url="http://127.0.0.1:8000") as client:
        client.cookies.set("botscope_session", session_for(ws))
        ok = client.post(
            "/api/v1/api-keys", json={"label": "x"}, headers={"Origin": "https://app.botscope.test"}
        )
        assert ok.status_code == 201


def test_expired_unknown_and_deleted_sessions_are_401(api_client, workspace_factory):
    ws, _ = workspace_factory("growth")
    token = session_for(ws)
    from botscope.auth import tokens

    stored = table().get_item(Key={"pk": f"SESSION#{tokens.hash_token(token)}", "sk": "SESSION"})["Item"]
    assert token not in str(stored)  # only the hash is stored
    assert credentials.get_session_by_token(token) is not None
    table().update_item(
        Key={"pk": stored["pk"], "sk": "SESSION"},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": 1},
    )
    assert credentials.get_session_by_token(token) is None  # past its lifetime, still in the table
    api_client.cookies.set("botscope_session", token)
    assert api_client.get("/api/v1/api-keys").status_code == 401

    live = session_for(ws)
    api_client.cookies.set("botscope_session", live)
    assert api_client.get("/api/v1/api-keys").status_code == 200
    credentials.delete_session(live)
    assert api_client.get("/api/v1/api-keys").status_code == 401

    api_client.cookies.set("botscope_session", tokens.issue("bss").token)
    assert api_client.get("/api/v1/api-keys").status_code == 401
    api_client.cookies.set("botscope_session", "garbage")
    assert api_client.get("/api/v1/api-keys").status_code == 401
