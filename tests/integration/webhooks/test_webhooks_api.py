"""Management API: create (secret once, encrypted at rest), list, delete, test, deliveries,
validation, SSRF guard at creation, tenant isolation, audit."""

from __future__ import annotations

import base64

from botscope.store.table import table

from tests.integration.webhooks.support import settings_env

TYPES = ["scan.completed", "scan.failed"]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create(api_client, key, url="http://127.0.0.1:9/hooks", **overrides):
    body = {"label": "ops", "url": url, "event_types": TYPES, **overrides}
    return api_client.post("/api/v1/webhooks", json=body, headers=auth(key))


def test_create_returns_the_secret_once_and_stores_it_encrypted(api_client, workspace_factory):
    ws, key = workspace_factory()
    response = create(api_client, key)
    assert response.status_code == 201, response.text
    created = response.json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and 24 <= len(base64.b64decode(secret[6:])) <= 64
    assert created["webhook_id"].startswith("wh_") and created["status"] == "enabled"
    assert created["event_types"] == TYPES and created["url"] == "http://127.0.0.1:9/hooks"

    # Given the stored item, the secret is KMS ciphertext, never the plaintext.
    item = table().get_item(Key={"pk": f"WS#{ws['workspace_id']}", "sk": f"WH#{created['webhook_id']}"})[
        "Item"
    ]
    assert item["secret_scheme"] == "kms"
    assert secret not in str(item) and secret[6:] not in str(item)

    listed = api_client.get("/api/v1/webhooks", headers=auth(key)).json()
    assert [w["webhook_id"] for w in listed["data"]] == [created["webhook_id"]]
    assert "secret" not in listed["data"][0] and "secret" not in str(listed)
    one = api_client.get(f"/api/v1/webhooks/{created['webhook_id']}", headers=auth(key)).json()
    assert "secret" not in one and one["label"] == "ops"


def test_validation_errors(api_client, workspace_factory):
    _, key = workspace_factory()
    unknown = create(api_client, key, event_types=["scan.completed", "scan.exploded"])
    assert unknown.status_code == 422 and unknown.json()["code"] == "validation_error"
    assert unknown.json()["errors"][0]["field"] == "event_types"
    assert create(api_client, key, event_types=[]).status_code == 422
    assert create(api_client, key, label="   ").json()["errors"][0]["field"] == "label"
    assert create(api_client, key, url="ftp://127.0.0.1/x").json()["code"] == "invalid_target"
    assert create(api_client, key, url="https://user:pw@example.com/").json()["code"] == "invalid_target"


def test_duplicate_url_conflicts_and_the_limit_holds(api_client, workspace_factory):
    _, key = workspace_factory()
    assert create(api_client, key).status_code == 201
    duplicate = create(api_client, key, url="http://127.0.0.1:9/hooks", label="again")
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "webhook_exists"
    for i in range(1, 10):
        assert create(api_client, key, url=f"http://127.0.0.1:9/hooks/{i}").status_code == 201
    over = create(api_client, key, url="http://127.0.0.1:9/hooks/10")
    assert over.status_code == 409 and over.json()["code"] == "webhook_limit_reached"
    # Deleting one frees a place (the counter goes down with the endpoint).
    first = api_client.get("/api/v1/webhooks", headers=auth(key)).json()["data"][0]["webhook_id"]
    assert api_client.delete(f"/api/v1/webhooks/{first}", headers=auth(key)).status_code == 204
    assert create(api_client, key, url="http://127.0.0.1:9/hooks/10").status_code == 201


def test_http_requires_local_mode(api_client, workspace_factory):
    _, key = workspace_factory()
    with settings_env(BOTSCOPE_LOCAL_MODE="false"):
        refused = create(api_client, key)
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_target"
    assert "https" in refused.json()["detail"]


NON_PUBLIC_URLS = [
    "https://127.0.0.1/hook",
    "https://2130706433/hook",
    "https://0x7f000001/hook",
    "https://0177.0.0.1/hook",
    "https://127.1/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:7f00:1]/hook",
    "https://10.0.0.8/hook",
    "https://192.168.1.1/hook",
    "https://172.16.5.4/hook",
    "https://100.64.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00:ec2::254]/hook",
    "https://[fe80::1]/hook",
    "https://0.0.0.0/hook",
    "https://%31%32%37.0.0.1/hook",
    "https://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/hook",  # full-width digits and dots
    "https://[64:ff9b::a9fe:a9fe]/hook",
    "https://internal.example.test/hook",
]


def test_non_public_urls_are_rejected_at_creation(api_client, workspace_factory):
    from botscope.webhooks import urls

    _, key = workspace_factory()
    urls.DEFAULT_RESOLVER = lambda host: ["10.1.2.3"]  # names resolve into private space
    with settings_env(BOTSCOPE_ALLOW_PRIVATE_TARGETS=None):
        for url in NON_PUBLIC_URLS:
            response = create(api_client, key, url=url)
            assert response.status_code == 422, (url, response.text)
            assert response.json()["code"] == "target_not_public", (url, response.text)
            assert "10.1.2.3" not in response.text and "127.0.0.1" not in response.json()["detail"]
    assert api_client.get("/api/v1/webhooks", headers=auth(key)).json()["data"] == []


def test_tenant_isolation_and_audit(api_client, workspace_factory):
    ws_a, key_a = workspace_factory()
    _, key_b = workspace_factory()
    webhook_id = create(api_client, key_a).json()["webhook_id"]
    for method, path in [("GET", ""), ("DELETE", ""), ("POST", "/test"), ("GET", "/deliveries")]:
        response = api_client.request(method, f"/api/v1/webhooks/{webhook_id}{path}", headers=auth(key_b))
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "not_found"
    assert api_client.get("/api/v1/webhooks", headers=auth(key_b)).json()["data"] == []
    assert api_client.get("/api/v1/webhooks/not-an-id", headers=auth(key_a)).status_code == 404
    assert api_client.get("/api/v1/webhooks", headers={}).status_code == 401

    assert api_client.delete(f"/api/v1/webhooks/{webhook_id}", headers=auth(key_a)).status_code == 204
    assert api_client.delete(f"/api/v1/webhooks/{webhook_id}", headers=auth(key_a)).status_code == 404
    records = table().query(
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": f"WS#{ws_a['workspace_id']}#AUDIT"},
    )["Items"]
    actions = sorted((r["action"], r["target"]) for r in records)
    assert actions == [("webhook.created", webhook_id), ("webhook.deleted", webhook_id)]
    assert "whsec_" not in str(records)


def test_test_event_is_queued_and_listed_as_a_delivery(api_client, workspace_factory, aws):
    from tests.integration.webhooks.support import body_json, queue_messages

    _, key = workspace_factory()
    webhook_id = create(api_client, key).json()["webhook_id"]
    queued = api_client.post(f"/api/v1/webhooks/{webhook_id}/test", headers=auth(key))
    assert queued.status_code == 202 and queued.json()["type"] == "webhook.test"
    messages = [body_json(m) for m in queue_messages(aws.webhook_queue_url)]
    assert [(m["event_id"], m["webhook_id"], m["attempt"]) for m in messages] == [
        (queued.json()["event_id"], webhook_id, 1)
    ]
    deliveries = api_client.get(f"/api/v1/webhooks/{webhook_id}/deliveries", headers=auth(key)).json()
    assert deliveries["has_more"] is False
    assert [(d["event_id"], d["event_type"], d["status"], d["attempts"]) for d in deliveries["data"]] == [
        (queued.json()["event_id"], "webhook.test", "pending", [])
    ]


def test_without_a_kms_key_the_documented_local_fallback_is_used(principal_factory):
    from botscope.service import webhooks as service
    from botscope.store import webhooks as store
    from botscope.webhooks import secrets

    principal, _ = principal_factory()
    with settings_env(BOTSCOPE_WEBHOOK_KMS_KEY_ID=None):
        created = service.create_webhook(
            principal, label="local", url="http://127.0.0.1:9/x", event_types=["scan.failed"]
        )
        item = store.get_endpoint(principal.workspace_id, created["webhook_id"])
        assert item is not None and item.secret_scheme == "local-plaintext"
        assert secrets.decrypt(item) == created["secret"]
    # A KMS ciphertext is bound to its endpoint: moved onto another endpoint it does not decrypt.
    kms_created = service.create_webhook(
        principal, label="kms", url="http://127.0.0.1:9/y", event_types=["scan.failed"]
    )
    kms_item = store.get_endpoint(principal.workspace_id, kms_created["webhook_id"])
    assert kms_item is not None and secrets.decrypt(kms_item) == kms_created["secret"]
    secrets.reset()
    import pytest

    with pytest.raises(Exception):  # noqa: B017
        secrets.decrypt(kms_item.model_copy(update={"webhook_id": created["webhook_id"]}))


def test_an_oversized_body_is_refused_before_anything_is_stored(api_client, workspace_factory):
    # A valid request is a label, a URL and up to three event types; a body padded with thousands
    # of (valid, deduplicated) event types used to be parsed and accepted whatever its size.
    ws, key = workspace_factory()
    padded = create(api_client, key, event_types=["scan.completed"] * 2000)
    assert padded.status_code == 413, padded.text
    assert padded.json()["code"] == "payload_too_large"
    assert api_client.get("/api/v1/webhooks", headers=auth(key)).json()["data"] == []
    assert create(api_client, key).status_code == 201
