"""Issue 17 item 3 and issue 15 item 3 on moto: PATCH (SSRF guard again, re-enabling clears the
failure streak), secret rotation (both signatures verify with ``standardwebhooks`` during the
overlap), redelivery (same event, same ``webhook-id``), the ``/test`` rate limit, and the caps on
the traffic one endpoint and one host can receive. Each change is audited."""

from __future__ import annotations

from botscope.store import webhooks as store
from botscope.store.table import table
from botscope.webhooks import fanout
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.integration.webhooks.support import drain, queue_counts, receiver, settings_env

TYPES = ["scan.completed"]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create(api_client, key, url, **extra):
    response = api_client.post(
        "/api/v1/webhooks",
        json={"label": "ops", "url": url, "event_types": TYPES, **extra},
        headers=auth(key),
    )
    assert response.status_code == 201, response.text
    return response.json()


def audit_of(workspace_id: str) -> list[dict]:
    items = table().query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"WS#{workspace_id}#AUDIT"}
    )["Items"]
    return sorted(items, key=lambda i: i["sk"])


def test_patch_changes_fields_and_guards_the_new_url(api_client, workspace_factory):
    ws, key = workspace_factory()
    hook = create(api_client, key, "http://127.0.0.1:9/a", description="first")
    wid = hook["webhook_id"]
    assert hook["description"] == "first"
    other = create(api_client, key, "http://127.0.0.1:9/b")

    patched = api_client.patch(
        f"/api/v1/webhooks/{wid}",
        json={
            "label": " renamed ",
            "description": "paging",
            "event_types": ["scan.failed", "scan.completed"],
            "url": "http://127.0.0.1:9/c",
        },
        headers=auth(key),
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["label"], body["description"], body["event_types"], body["url"]) == (
        "renamed",
        "paging",
        ["scan.failed", "scan.completed"],
        "http://127.0.0.1:9/c",
    )
    assert "secret" not in body and "secret_ciphertext" not in body

    # The old URL is free again, the new one is taken.
    assert create(api_client, key, "http://127.0.0.1:9/a")["url"] == "http://127.0.0.1:9/a"
    taken = api_client.patch(
        f"/api/v1/webhooks/{other['webhook_id']}", json={"url": "http://127.0.0.1:9/c"}, headers=auth(key)
    )
    assert taken.status_code == 409 and taken.json()["code"] == "webhook_exists"

    for url, code in (
        ("http://10.0.0.1/x", "target_not_public"),
        ("http://169.254.169.254/latest", "target_not_public"),
        ("https://example.com:²/", "invalid_target"),
        ("http://%5Bfoo%5D/", "invalid_target"),
    ):
        refused = api_client.patch(f"/api/v1/webhooks/{wid}", json={"url": url}, headers=auth(key))
        assert refused.status_code == 422 and refused.json()["code"] == code, (url, refused.text)
    assert (
        api_client.get(f"/api/v1/webhooks/{wid}", headers=auth(key)).json()["url"] == "http://127.0.0.1:9/c"
    )

    for bad in ({}, {"secret": "whsec_x"}, {"label": ""}, {"event_types": ["nope"]}, {"enabled": "yes"}):
        response = api_client.patch(f"/api/v1/webhooks/{wid}", json=bad, headers=auth(key))
        assert response.status_code == 422, (bad, response.text)

    _, stranger = workspace_factory()
    foreign = api_client.patch(f"/api/v1/webhooks/{wid}", json={"label": "x"}, headers=auth(stranger))
    assert foreign.status_code == 404
    updated = [a for a in audit_of(ws["workspace_id"]) if a["action"] == "webhook.updated"]
    assert (
        len(updated) == 1 and updated[0]["target"] == wid and "description" in updated[0]["details"]["fields"]
    )


def test_re_enabling_a_disabled_endpoint_clears_its_failure_streak(api_client, workspace_factory):
    ws, key = workspace_factory()
    wid = create(api_client, key, "http://127.0.0.1:9/hooks")["webhook_id"]
    store.note_endpoint_failure(ws["workspace_id"], wid, "2026-01-01T00:00:00.000Z")
    store.disable_endpoint(ws["workspace_id"], wid, "no successful delivery since 2026-01-01")
    disabled = api_client.get(f"/api/v1/webhooks/{wid}", headers=auth(key)).json()
    assert disabled["status"] == "disabled" and disabled["failing_since"]
    blocked = api_client.post(f"/api/v1/webhooks/{wid}/test", headers=auth(key))
    assert blocked.status_code == 409 and blocked.json()["code"] == "webhook_disabled"

    enabled = api_client.patch(f"/api/v1/webhooks/{wid}", json={"enabled": True}, headers=auth(key)).json()
    assert (
        enabled["status"] == "enabled"
        and enabled["failing_since"] is None
        and enabled["disabled_reason"] is None
    )
    assert api_client.post(f"/api/v1/webhooks/{wid}/test", headers=auth(key)).status_code == 202
    off = api_client.patch(f"/api/v1/webhooks/{wid}", json={"enabled": False}, headers=auth(key)).json()
    assert off["status"] == "disabled" and off["disabled_reason"] == "disabled by the workspace"


def test_rotated_secret_both_signatures_verify_during_the_overlap(
    aws, api_client, workspace_factory, deliver_handler
):
    ws, key = workspace_factory()
    with receiver() as rx:
        hook = create(api_client, key, rx.url())
        wid, old_secret = hook["webhook_id"], hook["secret"]
        rotated = api_client.post(f"/api/v1/webhooks/{wid}/rotate-secret", headers=auth(key))
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret.startswith("whsec_") and new_secret != old_secret
        assert rotated.json()["rotation_overlap_until"]
        assert "secret" not in api_client.get(f"/api/v1/webhooks/{wid}", headers=auth(key)).json()
        assert api_client.post(f"/api/v1/webhooks/{wid}/test", headers=auth(key)).status_code == 202
        drain(aws.webhook_queue_url, deliver_handler)
        (during,) = rx.requests
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        for secret in (old_secret, new_secret):
            assert Webhook(secret).verify(during.body, during.headers)["type"] == "webhook.test"

        # After the overlap only the new secret signs.
        table().update_item(
            Key={"pk": f"WS#{ws['workspace_id']}", "sk": f"WH#{wid}"},
            UpdateExpression="SET rotation_overlap_until = :past",
            ExpressionAttributeValues={":past": "2000-01-01T00:00:00.000Z"},
        )
        assert api_client.post(f"/api/v1/webhooks/{wid}/test", headers=auth(key)).status_code == 202
        drain(aws.webhook_queue_url, deliver_handler)
        after = rx.requests[1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(new_secret).verify(after.body, after.headers)
    try:
        Webhook(old_secret).verify(after.body, after.headers)
        raise AssertionError("the rotated-out secret still verifies after the overlap")
    except WebhookVerificationError:
        pass
    actions = [a["action"] for a in audit_of(ws["workspace_id"])]
    assert "webhook.secret_rotated" in actions
    assert not any(new_secret in str(a) or old_secret in str(a) for a in audit_of(ws["workspace_id"]))


def test_redeliver_sends_the_same_event_again(aws, api_client, workspace_factory, deliver_handler):
    ws, key = workspace_factory()
    with receiver() as rx:
        hook = create(api_client, key, rx.url())
        wid = hook["webhook_id"]
        queued = api_client.post(f"/api/v1/webhooks/{wid}/test", headers=auth(key)).json()
        pending = api_client.post(
            f"/api/v1/webhooks/{wid}/deliveries/{queued['delivery_id']}/redeliver", headers=auth(key)
        )
        assert pending.status_code == 409 and pending.json()["code"] == "delivery_pending"
        drain(aws.webhook_queue_url, deliver_handler)
        again = api_client.post(
            f"/api/v1/webhooks/{wid}/deliveries/{queued['delivery_id']}/redeliver", headers=auth(key)
        )
        assert again.status_code == 202, again.text
        assert again.json()["event_id"] == queued["event_id"] and again.json()["attempt"] == 2
        drain(aws.webhook_queue_url, deliver_handler)
        assert [r.headers["webhook-id"] for r in rx.requests] == [queued["event_id"]] * 2
        assert rx.requests[0].body == rx.requests[1].body
        for request in rx.requests:
            Webhook(hook["secret"]).verify(request.body, request.headers)
    (delivery,) = api_client.get(f"/api/v1/webhooks/{wid}/deliveries", headers=auth(key)).json()["data"]
    assert delivery["status"] == "delivered" and [a["attempt"] for a in delivery["attempts"]] == [1, 2]

    missing = api_client.post(
        f"/api/v1/webhooks/{wid}/deliveries/dlv_00000000000000000000000000/redeliver", headers=auth(key)
    )
    assert missing.status_code == 404
    _, stranger = workspace_factory()
    foreign = api_client.post(
        f"/api/v1/webhooks/{wid}/deliveries/{queued['delivery_id']}/redeliver", headers=auth(stranger)
    )
    assert foreign.status_code == 404
    assert "webhook.redelivered" in [a["action"] for a in audit_of(ws["workspace_id"])]


def test_test_events_are_rate_limited_per_endpoint(api_client, workspace_factory):
    _, key = workspace_factory()
    first = create(api_client, key, "http://127.0.0.1:9/one")["webhook_id"]
    second = create(api_client, key, "http://127.0.0.1:9/two")["webhook_id"]
    with settings_env(BOTSCOPE_WEBHOOK_TEST_PER_ENDPOINT_MINUTE="3"):
        codes = [
            api_client.post(f"/api/v1/webhooks/{first}/test", headers=auth(key)).status_code for _ in range(5)
        ]
        assert codes == [202, 202, 202, 429, 429]
        refused = api_client.post(f"/api/v1/webhooks/{first}/test", headers=auth(key))
        assert refused.json()["code"] == "rate_limited" and 1 <= int(refused.headers["retry-after"]) <= 60
        assert api_client.post(f"/api/v1/webhooks/{second}/test", headers=auth(key)).status_code == 202


def test_one_endpoint_and_one_host_receive_at_most_their_share(
    aws, principal_factory, deliver_handler, monkeypatch
):
    """The retry-amplification attack: many events to an endpoint that fails, and endpoints of
    several workspaces on one host. Over a cap a message waits in the queue and is not an attempt."""
    from botscope import ratelimit
    from botscope.service import webhooks as service

    frozen = ratelimit._clock()
    monkeypatch.setattr(ratelimit, "_clock", lambda: frozen)  # one minute window for the whole test

    with (
        settings_env(
            BOTSCOPE_WEBHOOK_MAX_ATTEMPTS_PER_ENDPOINT_MINUTE="4",
            BOTSCOPE_WEBHOOK_MAX_ATTEMPTS_PER_HOST_MINUTE="6",
        ),
        receiver(lambda request, index: (500, {})) as rx,
    ):
        principals = [principal_factory()[0] for _ in range(3)]
        endpoints = [
            service.create_webhook(p, label="x", url=rx.url(f"/w{n}"), event_types=TYPES)
            for n, p in enumerate(principals)
        ]
        for principal, endpoint in zip(principals, endpoints, strict=True):
            stored = store.get_endpoint(principal.workspace_id, endpoint["webhook_id"])
            for _ in range(5):
                fanout.send_test_event(principal.workspace_id, stored)
        drain(aws.webhook_queue_url, deliver_handler)

    per_path: dict[str, int] = {}
    for request in rx.requests:
        per_path[request.path] = per_path.get(request.path, 0) + 1
    assert len(rx.requests) == 6  # the host's share of this minute, across the three workspaces
    assert all(count <= 4 for count in per_path.values()), per_path  # and no endpoint beyond its own
    attempts = sum(
        d.attempt_count for e in endpoints for d in store.list_deliveries(e["webhook_id"], limit=100)[0]
    )
    assert attempts == 6  # a deferred message is not an attempt
    assert queue_counts(aws.webhook_queue_url)["delayed"] >= 15 - 6  # the rest wait in the queue
