"""Issue 15 item 7: a secret in the customer's own target URL (``?token=…``) stays in the scan
record (the customer's) and the stored plan the probes read, and nowhere else: stored path runs,
the audit log and webhook payloads carry the query with its values redacted."""

from __future__ import annotations

import json

from botscope.redaction import redact_url, redact_urls_in
from botscope.store import scans
from botscope.store import webhooks as webhook_store
from botscope.store.table import table

SECRET = "s3cr3t-Reset-Token-42"
TARGET = f"https://shop.example.com/account?token={SECRET}&lang=en&flag"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_redact_url_keeps_keys_and_drops_values() -> None:
    assert (
        redact_url("https://a.example/p?token=x&lang=en&flag#frag")
        == "https://a.example/p?token=redacted&lang=redacted&flag"
    )
    assert redact_url("/login") == "/login"
    assert redact_urls_in({"target_url": "/x?a=1", "nested": [{"path": "/y?b=2"}], "other": "/z?c=3"}) == {
        "target_url": "/x?a=redacted",
        "nested": [{"path": "/y?b=redacted"}],
        "other": "/z?c=3",
    }


def test_a_token_in_the_target_url_reaches_only_the_scan_record(
    api_client, workspace_factory, scan_edges
) -> None:
    from botscope.scanner.targets import normalize_target
    from botscope.webhooks import secrets
    from botscope.workflow import stages

    ws, key = workspace_factory("enterprise")
    wsid = ws["workspace_id"]
    hook = {
        "webhook_id": "wh_00000000000000000000000001",
        "workspace_id": wsid,
        "label": "x",
        "url": "https://hooks.example.com/in",
        "event_types": ["scan.failed"],
        "created_by": "test",
        **secrets.encrypt("whsec_" + "A" * 44, workspace_id=wsid, webhook_id="wh_00000000000000000000000001"),
    }
    webhook_store.create_endpoint(**hook)

    created = api_client.post(
        "/api/v1/scans", json={"target_url": TARGET, "scan_mode": "quick"}, headers=bearer(key)
    )
    assert created.status_code == 202, created.text
    scan_id = created.json()["scan_job_id"]
    # The customer's own scan record keeps the URL as given.
    assert SECRET in scans.get_scan(scan_id).target_url
    assert SECRET in api_client.get(f"/api/v1/scans/{scan_id}", headers=bearer(key)).json()["target_url"]

    # Stored path runs (what Prepare writes from the plan) carry no query value.
    target = normalize_target(TARGET)
    runs = scans.put_path_runs(
        scan_id, [{"path": target.path, "profile": "browser"}, {"path": "/robots.txt", "profile": "browser"}]
    )
    assert runs[0].path == "/account?token=redacted&lang=redacted&flag"
    assert all(SECRET not in json.dumps(r, default=str) for r in scans.list_path_runs(scan_id))
    status = api_client.get(f"/api/v1/scans/{scan_id}", headers=bearer(key)).json()
    assert SECRET not in json.dumps(status["path_runs"])

    # The audit log.
    log = api_client.get("/api/v1/audit-log", headers=bearer(key)).json()["data"]
    started = next(r for r in log if r["action"] == "scan.started")
    assert (
        started["details"]["target_url"]
        == "https://shop.example.com/account?token=redacted&lang=redacted&flag"
    )
    assert SECRET not in json.dumps(log)

    # Webhook payloads.
    stages.mark_scan_failed(scan_id, wsid, {"Error": "States.Timeout", "Cause": "x"})
    deliveries = table().query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"WH#{hook['webhook_id']}"}
    )["Items"]
    assert deliveries, "the scan.failed event was not fanned out"
    payload = json.loads(deliveries[0]["payload"])
    assert (
        payload["data"]["target_url"] == "https://shop.example.com/account?token=redacted&lang=redacted&flag"
    )
    assert SECRET not in deliveries[0]["payload"]
