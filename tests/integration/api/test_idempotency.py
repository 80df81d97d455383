"""Idempotency-Key on POST /api/v1/scans: replay, mismatch, in flight, lease takeover, errors not
stored, per-workspace scope, expiry."""

from __future__ import annotations

from botscope.service import scans as service
from botscope.store import idempotency, monitoring
from botscope.store.table import table

from tests.integration.api._support import bearer, complete_scan, executions

SCANS = "/api/v1/scans"


def post(client, key, body, idem_key):
    return client.post(SCANS, json=body, headers={**bearer(key), "Idempotency-Key": idem_key})


def test_a_retry_replays_the_first_response(scan_api, workspace_factory, state_machine):
    _, key = workspace_factory("enterprise")
    body = {"target_url": "https://example.com/", "scan_mode": "quick"}
    first = post(scan_api, key, body, "retry-1")
    assert first.status_code == 202 and "idempotent-replayed" not in first.headers
    complete_scan(first.json()["scan_job_id"])  # even once the scan moved on, the reply is the stored one

    again = post(scan_api, key, body, "retry-1")
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    assert len(executions(state_machine)) == 1


def test_same_key_with_a_different_body_is_422(scan_api, workspace_factory):
    _, key = workspace_factory("enterprise")
    assert post(scan_api, key, {"target_url": "https://example.com/"}, "k1").status_code == 202
    response = post(scan_api, key, {"target_url": "https://example.com/", "scan_mode": "quick"}, "k1")
    assert response.status_code == 422 and response.json()["code"] == "idempotency_mismatch"


def test_a_key_still_in_flight_is_409_until_its_lease_lapses(scan_api, workspace_factory):
    ws, key = workspace_factory("enterprise")
    body = {"target_url": "https://example.com/"}
    body_hash = service.request_hash(body["target_url"], "full", False)
    assert idempotency.begin(ws["workspace_id"], "busy", body_hash) is None  # another request holds it

    response = post(scan_api, key, body, "busy")
    assert response.status_code == 409 and response.json()["code"] == "idempotency_in_flight"
    assert response.headers["retry-after"] == "1"

    # The holder died (e.g. a Lambda timeout): after the lease a retry takes the key over.
    table().update_item(
        Key={"pk": f"WS#{ws['workspace_id']}", "sk": "IDEM#busy"},
        UpdateExpression="SET lease_expires_at = :past",
        ExpressionAttributeValues={":past": 1},
    )
    assert post(scan_api, key, body, "busy").status_code == 202


def test_an_error_is_not_stored_so_the_client_can_fix_the_cause_and_retry(scan_api, workspace_factory):
    ws, key = workspace_factory("growth", monitor_slots_limit=1)
    first = post(scan_api, key, {"target_url": "https://one.example.com/", "enroll_monitoring": True}, "a")
    assert first.status_code == 202
    body = {"target_url": "https://two.example.com/", "enroll_monitoring": True}
    assert post(scan_api, key, body, "b").json()["code"] == "monitoring_slots_exhausted"

    monitoring.release(ws["workspace_id"], first.json()["monitoring"]["monitored_url_id"])
    retry = post(scan_api, key, body, "b")
    assert retry.status_code == 202 and "idempotent-replayed" not in retry.headers


def test_keys_are_scoped_to_the_workspace(scan_api, workspace_factory):
    _, key_a = workspace_factory("enterprise")
    _, key_b = workspace_factory("enterprise")
    a = post(scan_api, key_a, {"target_url": "https://example.com/"}, "shared-key")
    b = post(scan_api, key_b, {"target_url": "https://other.example.com/"}, "shared-key")
    assert a.status_code == 202 and b.status_code == 202
    assert a.json()["scan_job_id"] != b.json()["scan_job_id"]


def test_an_expired_record_is_a_new_request(scan_api, workspace_factory):
    ws, key = workspace_factory("enterprise")
    body = {"target_url": "https://example.com/"}
    first = post(scan_api, key, body, "old")
    complete_scan(first.json()["scan_job_id"])
    # 24 h later (DynamoDB's TTL deletes lazily: the reader must ignore the expired record itself).
    table().update_item(
        Key={"pk": f"WS#{ws['workspace_id']}", "sk": "IDEM#old"},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": 1},
    )
    again = post(scan_api, key, body, "old")
    assert again.status_code == 202 and again.json()["scan_job_id"] != first.json()["scan_job_id"]


def test_a_malformed_key_is_a_validation_error(scan_api, workspace_factory):
    _, key = workspace_factory("enterprise")
    response = post(scan_api, key, {"target_url": "https://example.com/"}, "x" * 256)
    assert response.status_code == 422 and response.json()["code"] == "validation_error"
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
