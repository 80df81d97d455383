"""The sample events (events/api_webhooks_*.json, events/webhook_deliver.json) through the real
Lambda handlers, against moto."""

from __future__ import annotations

import base64
import gzip
import json

from tests.integration.webhooks.support import ROOT, LambdaContext

PLACEHOLDER_KEY = "dxk_REPLACE_WITH_A_KEY"
PLACEHOLDER_WH = "wh_REPLACE_WITH_AN_ID"


def _api_handler():
    from botscope.local.seam import load_handler

    return load_handler("api")


def _event(name, key, webhook_id=PLACEHOLDER_WH):
    text = (ROOT / "events" / f"{name}.json").read_text()
    return json.loads(text.replace(PLACEHOLDER_KEY, key).replace(PLACEHOLDER_WH, webhook_id))


def test_api_events_drive_the_whole_lifecycle(aws, workspace_factory):
    from botscope.webhooks import urls

    urls.DEFAULT_RESOLVER = lambda host: ["93.184.216.34"]  # hooks.example.com, never contacted here
    handler = _api_handler()
    _, key = workspace_factory()

    def call(name, webhook_id=PLACEHOLDER_WH):
        response = handler(_event(name, key, webhook_id), LambdaContext(function_name="ApiFunction"))
        body = response.get("body") or ""
        if response.get("isBase64Encoded"):
            raw = base64.b64decode(body)
            headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
            body = (
                gzip.decompress(raw).decode() if headers.get("content-encoding") == "gzip" else raw.decode()
            )
        return response["statusCode"], json.loads(body) if body else None

    status, created = call("api_webhooks_create")
    assert (
        status == 201
        and created["secret"].startswith("whsec_")
        and created["url"] == "https://hooks.example.com/botscope"
    )
    webhook_id = created["webhook_id"]
    status, listed = call("api_webhooks_list")
    assert status == 200 and [w["webhook_id"] for w in listed["data"]] == [webhook_id]
    status, queued = call("api_webhooks_test", webhook_id)
    assert status == 202 and queued["event_id"].startswith("evt_")
    status, deliveries = call("api_webhooks_deliveries", webhook_id)
    assert status == 200 and [d["event_id"] for d in deliveries["data"]] == [queued["event_id"]]
    assert call("api_webhooks_delete", webhook_id)[0] == 204
    assert call("api_webhooks_deliveries", webhook_id)[0] == 404


def test_the_sample_sqs_event_is_handled_without_failing_the_batch(aws, deliver_handler):
    event = json.loads((ROOT / "events" / "webhook_deliver.json").read_text())
    # Its delivery does not exist in this empty table: the record is acknowledged (nothing to send).
    assert deliver_handler(event, LambdaContext(function_name="WebhookDeliverFunction")) == {
        "batchItemFailures": []
    }
