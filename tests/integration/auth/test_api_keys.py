"""API key lifecycle over HTTP: shown once, listed without secrets, revoked at once, limits, labels,
and the cookie-or-Bearer credential rules for managing keys."""

from __future__ import annotations

import pytest
from botscope.auth import tokens
from botscope.store import credentials
from botscope.store import table as store_table


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_created_key_is_shown_once_and_works(api_client, workspace_factory):
    ws, key = workspace_factory("growth")
    created = api_client.post("/api/v1/api-keys", json={"label": "  ci pipeline  "}, headers=bearer(key))
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"api_key_id", "key", "label", "prefix", "last4", "created_at"}
    assert body["label"] == "ci pipeline"
    assert tokens.is_well_formed(body["key"], "dxk") and body["key"].endswith(body["last4"])
    assert body["key"].startswith(body["prefix"])

    listed = api_client.get("/api/v1/api-keys", headers=bearer(body["key"]))
    assert listed.status_code == 200
    rows = listed.json()["data"]
    assert {r["label"] for r in rows} == {"test key", "ci pipeline"}
    assert body["key"] not in listed.text and key not in listed.text
    assert all("key" not in r for r in rows)


def test_revoked_key_is_rejected_on_its_next_request(api_client, workspace_factory):
    ws, key = workspace_factory("growth")
    second = api_client.post("/api/v1/api-keys", json={"label": "temp"}, headers=bearer(key)).json()
    assert api_client.get("/api/v1/api-keys", headers=bearer(second["key"])).status_code == 200

    assert (
        api_client.delete(f"/api/v1/api-keys/{second['api_key_id']}", headers=bearer(key)).status_code == 204
    )

    after = api_client.get("/api/v1/api-keys", headers=bearer(second["key"]))
    assert after.status_code == 401
    assert after.headers["content-type"].startswith("application/problem+json")
    assert after.headers["www-authenticate"].lower().startswith("bearer")
    # Gone from the list, and a second revoke is a 404.
    assert second["api_key_id"] not in api_client.get("/api/v1/api-keys", headers=bearer(key)).text
    assert (
        api_client.delete(f"/api/v1/api-keys/{second['api_key_id']}", headers=bearer(key)).status_code == 404
    )


def test_another_workspace_cannot_revoke_or_see_keys(api_client, workspace_factory):
    _, key_a = workspace_factory("growth")
    _, key_b = workspace_factory("growth")
    b_key_id = api_client.get("/api/v1/api-keys", headers=bearer(key_b)).json()["data"][0]["api_key_id"]
    assert b_key_id not in api_client.get("/api/v1/api-keys", headers=bearer(key_a)).text
    response = api_client.delete(f"/api/v1/api-keys/{b_key_id}", headers=bearer(key_a))
    assert response.status_code == 404
    assert api_client.get("/api/v1/api-keys", headers=bearer(key_b)).status_code == 200


@pytest.mark.parametrize("label", ["", "   ", "x" * 65, "tab\tinside", "bell\x07"])
def test_invalid_labels_are_422_with_the_field(api_client, workspace_factory, label):
    _, key = workspace_factory("growth")
    response = api_client.post("/api/v1/api-keys", json={"label": label}, headers=bearer(key))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "label"


def test_label_of_64_characters_is_accepted(api_client, workspace_factory):
    _, key = workspace_factory("growth")
    response = api_client.post("/api/v1/api-keys", json={"label": " " + "é" * 64 + " "}, headers=bearer(key))
    assert response.status_code == 201 and response.json()["label"] == "é" * 64


def test_per_workspace_limit_is_409_and_revoking_frees_a_slot(api_client, workspace_factory, monkeypatch):
    monkeypatch.setattr(credentials, "MAX_ACTIVE_API_KEYS", 3)
    _, key = workspace_factory("growth")  # active key 1
    ids = [
        api_client.post("/api/v1/api-keys", json={"label": f"k{i}"}, headers=bearer(key)).json()["api_key_id"]
        for i in range(2)
    ]
    refused = api_client.post("/api/v1/api-keys", json={"label": "one too many"}, headers=bearer(key))
    assert refused.status_code == 409 and refused.json()["code"] == "api_key_limit_reached"
    assert api_client.delete(f"/api/v1/api-keys/{ids[0]}", headers=bearer(key)).status_code == 204
    assert (
        api_client.post("/api/v1/api-keys", json={"label": "fits again"}, headers=bearer(key)).status_code
        == 201
    )


def test_last_used_at_is_written_at_most_once_a_minute(api_client, workspace_factory, monkeypatch):
    _, key = workspace_factory("growth")
    writes = []
    real_table = store_table.table

    class CountingTable:
        def __init__(self, inner):
            self._inner = inner

        def update_item(self, **kwargs):
            if kwargs.get("UpdateExpression", "").startswith("SET last_used_at"):
                writes.append(kwargs)
            return self._inner.update_item(**kwargs)

        def __getattr__(self, name):
            return getattr(self._inner, name)

    # The conditional write goes through the shared store helper, which looks ``table`` up in its module.
    monkeypatch.setattr(store_table, "table", lambda: CountingTable(real_table()))
    for _ in range(4):
        assert api_client.get("/api/v1/api-keys", headers=bearer(key)).status_code == 200
    assert len(writes) == 1
    listed = api_client.get("/api/v1/api-keys", headers=bearer(key)).json()["data"][0]
    assert listed["last_used_at"] is not None


def test_malformed_key_never_reads_the_table(api_client, workspace_factory, monkeypatch):
    _, key = workspace_factory("growth")
    lookups = []
    real_lookup = credentials.get_api_key_by_token
    monkeypatch.setattr(
        credentials, "get_api_key_by_token", lambda token: lookups.append(token) or real_lookup(token)
    )
    # Every DynamoDB call of any kind (credential, workspace, rate-limit counter) is counted too.
    from botscope.store.table import dynamodb_resource

    calls = []
    events = dynamodb_resource().meta.client.meta.events
    events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name), unique_id="count-calls"
    )
    mistyped = key[:-1] + ("a" if key[-1] != "a" else "b")
    try:
        for bad in (mistyped, "dxk_short", key + "x", "sk_live_" + key[4:], "mcp_" + mistyped[4:]):
            response = api_client.get("/api/v1/api-keys", headers=bearer(bad))
            assert response.status_code == 401
            assert response.json()["code"] == "unauthorized"
    finally:
        events.unregister("before-call.dynamodb", unique_id="count-calls")
    assert lookups == [] and calls == []
    # The counter is live: a well-formed key does read the table.
    assert api_client.get("/api/v1/api-keys", headers=bearer(key)).status_code == 200
    assert lookups == [key]


def test_unknown_but_well_formed_key_is_401(api_client, aws):
    response = api_client.get("/api/v1/api-keys", headers=bearer(tokens.issue("dxk").token))
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_missing_credential_is_401_with_www_authenticate(api_client, aws):
    response = api_client.get("/api/v1/api-keys")
    assert response.status_code == 401
    assert "bearer" in response.headers["www-authenticate"].lower()


def test_mcp_token_is_not_accepted_on_the_http_api(api_client, workspace_factory):
    ws, _ = workspace_factory("growth")
    mcp_token = credentials.create_mcp_token(ws["workspace_id"], "agent").secret
    response = api_client.get("/api/v1/api-keys", headers=bearer(mcp_token))
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"


def test_a_malformed_key_id_is_not_found_without_touching_the_store(
    api_client, workspace_factory, monkeypatch
):
    # A path segment of any length would otherwise become a DynamoDB key (sort keys are capped at
    # 1024 bytes: DynamoDB answers ValidationException, a 500). Ids have one shape: check it first.
    _, key = workspace_factory("growth")
    revokes = []
    monkeypatch.setattr(credentials, "revoke_api_key", lambda *args: revokes.append(args))
    for bad in ("key_" + "a" * 2000, "not-a-key-id", "key_short"):
        response = api_client.delete(f"/api/v1/api-keys/{bad}", headers=bearer(key))
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    assert revokes == []
