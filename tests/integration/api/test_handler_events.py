"""The ApiFunction handler (functions/api/app.py) driven by the sample API Gateway HTTP API (payload
2.0) events in events/api_*.json, against moto."""

from __future__ import annotations

import base64
import gzip
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.api._support import complete_scan

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events"
PLACEHOLDER_SCAN = "scan_01m8g6ykxknfmjb3gegvxbx82x"


@dataclass
class LambdaContext:
    function_name: str = "botscope-dev-ApiFunction"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:botscope-dev-ApiFunction"
    aws_request_id: str = "6f1c0b7e-3f0c-4f7e-9d55-0c6b3f1d2a90"
    log_group_name: str = "/aws/lambda/botscope-dev-ApiFunction"
    log_stream_name: str = "2026/11/28/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


@pytest.fixture(scope="module")
def handler_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "botscope_api_function", ROOT / "functions" / "api" / "app.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_event(name: str, *, key: str | None = None, scan_id: str | None = None) -> dict[str, Any]:
    text = (EVENTS / f"{name}.json").read_text()
    if scan_id:
        text = text.replace(PLACEHOLDER_SCAN, scan_id)
    event = json.loads(text)
    if key:
        event["headers"]["authorization"] = f"Bearer {key}"
    return event


def invoke(handler_module: Any, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    response = handler_module.lambda_handler(event, LambdaContext())
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(body)
        body = gzip.decompress(raw).decode() if headers.get("content-encoding") == "gzip" else raw.decode()
    return response["statusCode"], headers, json.loads(body) if body else None


OWN_EVENTS = [
    "api_create_scan",
    "api_get_scan",
    "api_health",
    "api_list_scans",
    "api_scan_findings",
    "api_scan_report",
]


def test_every_api_event_is_a_valid_http_api_v2_event():
    names = sorted(p.stem for p in EVENTS.glob("api_*.json"))
    assert set(OWN_EVENTS) <= set(names)
    for name in names:
        event = load_event(name)
        assert event["version"] == "2.0", name
        method, route = event["routeKey"].split(" ", 1)
        assert event["requestContext"]["http"]["method"] == method, name
        assert event["rawPath"] == event["requestContext"]["http"]["path"], name
        assert route.startswith("/"), name


def test_health_event_needs_no_credential(handler_module, aws):
    status, headers, body = invoke(handler_module, load_event("api_health"))
    assert status == 200 and body == {"status": "ok"}
    assert headers["x-request-id"] == "Wb1kQjCXIAMEbQa="


def test_the_handler_answers_after_an_earlier_asyncio_run_in_the_same_thread(handler_module, aws):
    """The local stack and the tests run other handlers in-process; an ``asyncio.run`` before an
    API invocation leaves the thread without an event loop, which Mangum needs."""
    import asyncio

    asyncio.run(asyncio.sleep(0))
    with pytest.raises(RuntimeError):
        asyncio.get_event_loop()  # the state the handler must cope with
    status, _, body = invoke(handler_module, load_event("api_health"))
    assert status == 200 and body == {"status": "ok"}


def test_committed_events_carry_no_working_key(handler_module, aws):
    status, headers, body = invoke(handler_module, load_event("api_list_scans"))
    assert status == 401 and body["code"] == "unauthorized"
    assert headers["www-authenticate"].startswith("Bearer")
    assert headers["content-type"].startswith("application/problem+json")


def test_scan_lifecycle_through_the_lambda_handler(
    handler_module, state_machine, atomic_dynamodb, workspace_factory, monkeypatch
):
    from botscope.service import scans as service

    from tests.integration.api._support import fake_resolver

    monkeypatch.setattr(service, "target_resolver", fake_resolver)
    ws, key = workspace_factory("growth")

    status, headers, created = invoke(handler_module, load_event("api_create_scan", key=key))
    assert status == 202, created
    scan_id = created["scan_job_id"]
    assert headers["location"] == f"/api/v1/scans/{scan_id}"
    assert created["target_url"] == "https://www.example.com/" and created["monitoring"]["enrolled"] is True
    assert headers["x-request-id"] == "Wb1kQjCXIAMEbQb="

    # The event carries an Idempotency-Key: replaying it returns the same scan, flagged as replayed.
    status, headers, replay = invoke(handler_module, load_event("api_create_scan", key=key))
    assert status == 202 and replay == created and headers["idempotent-replayed"] == "true"

    status, headers, polled = invoke(handler_module, load_event("api_get_scan", key=key, scan_id=scan_id))
    assert status == 200 and polled["status"] == "queued" and headers["retry-after"] == "5"

    status, _, listed = invoke(handler_module, load_event("api_list_scans", key=key))
    assert status == 200 and [s["scan_job_id"] for s in listed["data"]] == [scan_id]

    for name in ("api_scan_findings", "api_scan_report"):
        status, headers, problem = invoke(handler_module, load_event(name, key=key, scan_id=scan_id))
        assert status == 409 and problem["code"] == "scan_not_ready"

    report = complete_scan(scan_id)
    status, _, findings = invoke(handler_module, load_event("api_scan_findings", key=key, scan_id=scan_id))
    assert status == 200 and findings["findings"] == report["findings"]
    status, _, full = invoke(handler_module, load_event("api_scan_report", key=key, scan_id=scan_id))
    assert status == 200 and full == report

    # The audit trail records the source IP API Gateway saw.
    from botscope.store.table import table

    audit = table().query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"WS#{ws['workspace_id']}#AUDIT"}
    )["Items"]
    actions = sorted(a["action"] for a in audit)
    assert actions == ["monitoring.enrolled", "scan.started"]
    assert {a["source_ip"] for a in audit} == {"198.51.100.23"}
