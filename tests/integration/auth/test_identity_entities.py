"""The identity repositories' entities declare every attribute their repository writes, and what
they return is typed: credentials, workspaces, audit records, idempotency records and the rate
windows (docs/data-model.md)."""

from __future__ import annotations

from typing import Any

import pytest
from botscope.auth import tokens
from botscope.store import audit, credentials, idempotency, rate_windows, workspaces
from botscope.store.table import table

from tests.helpers.entities import undeclared_attributes


def _raw(pk: str, sk: str) -> dict[str, Any]:
    item: dict[str, Any] = table().get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True)["Item"]
    return item


def test_workspace_declares_every_attribute_written_to_its_item(aws) -> None:
    ws = workspaces.create_workspace("entities", "growth")
    # The counters other repositories claim on the workspace item are written too.
    credentials.create_api_key(ws.workspace_id, "counted")
    table().update_item(
        Key={"pk": f"WS#{ws.workspace_id}", "sk": "META"},
        UpdateExpression="SET webhook_count = :one",
        ExpressionAttributeValues={":one": 1},
    )
    raw = _raw(f"WS#{ws.workspace_id}", "META")
    assert undeclared_attributes(workspaces.Workspace, raw) == set()
    read = workspaces.get_workspace(ws.workspace_id)
    assert read is not None
    assert (read.plan, read.status, read.monitor_slots_limit, read.api_keys_active) == (
        "growth",
        "active",
        5,
        1,
    )
    workspaces.set_workspace_status(ws.workspace_id, "past_due")
    assert workspaces.get_workspace(ws.workspace_id).status == "past_due"  # type: ignore[union-attr]
    assert workspaces.get_workspace("ws_missing") is None


def test_credentials_declare_every_attribute_and_never_carry_the_secret(aws) -> None:
    ws = workspaces.create_workspace("entities", "enterprise")
    key = credentials.create_api_key(ws.workspace_id, "ci", created_by="api_key:key_x")
    token = credentials.create_mcp_token(ws.workspace_id, "agent")
    session = credentials.create_session(ws.workspace_id, "user:owner@example.test")
    for kind, issued, entity_type in (
        ("APIKEY", key, credentials.ApiKey),
        ("MCPTOKEN", token, credentials.McpToken),
        ("SESSION", session, credentials.Session),
    ):
        raw = _raw(f"{kind}#{tokens.hash_token(issued.secret)}", kind)
        assert undeclared_attributes(entity_type, raw) == set()
        assert issued.secret not in str(issued.credential.to_dict())
    assert key.credential.created_by == "api_key:key_x" and key.credential.last_used_at is None
    assert credentials.get_api_key_by_token(key.secret) == key.credential
    assert credentials.get_mcp_token_by_token(token.secret) == token.credential
    assert credentials.get_session_by_token(session.secret) == session.credential
    assert credentials.get_api_key_by_token(token.secret) is None  # an MCP token is no API key


def test_touch_last_used_writes_at_most_once_a_minute(aws) -> None:
    ws = workspaces.create_workspace("entities", "enterprise")
    key = credentials.create_api_key(ws.workspace_id, "ci")
    assert credentials.touch_last_used(key.credential, key.secret) is True
    touched = credentials.get_api_key_by_token(key.secret)
    assert touched is not None and touched.last_used_at is not None
    assert credentials.touch_last_used(touched, key.secret) is False  # fresh: no read, no write
    # A stale copy (read before the touch) loses the conditional write instead of writing again.
    assert credentials.touch_last_used(key.credential, key.secret) is False
    token = credentials.create_mcp_token(ws.workspace_id, "agent")
    assert credentials.touch_last_used(token.credential, token.secret) is True
    assert credentials.get_mcp_token_by_token(token.secret).last_used_at is not None  # type: ignore[union-attr]


def test_revoked_key_is_listed_only_on_request(aws) -> None:
    ws = workspaces.create_workspace("entities", "enterprise")
    key = credentials.create_api_key(ws.workspace_id, "old")
    revoked = credentials.revoke_api_key(ws.workspace_id, key.credential.api_key_id)
    assert revoked is not None and revoked.revoked_at is not None
    assert credentials.list_api_keys(ws.workspace_id) == []
    listed = credentials.list_api_keys(ws.workspace_id, include_revoked=True)
    assert [k.api_key_id for k in listed] == [key.credential.api_key_id] and listed[0].revoked_at
    assert credentials.revoke_api_key(ws.workspace_id, key.credential.api_key_id) is None


def test_audit_record_declares_every_attribute(aws) -> None:
    audit_id = audit.put_record(
        "ws_audit",
        actor_type="api_key",
        actor_id="key_x",
        action="key.created",
        target="key_y",
        request_id="req_1",
        source_ip="127.0.0.1",
        details={"label": "ci", "count": 2},
    )
    raw = _raw("WS#ws_audit#AUDIT", audit_id)
    assert undeclared_attributes(audit.AuditRecord, raw) == set()
    records, has_more = audit.list_records("ws_audit", limit=5)
    assert has_more is False and [r.audit_id for r in records] == [audit_id]
    assert records[0].actor == "api_key:key_x" and records[0].details == {"label": "ci", "count": 2}


def test_idempotency_record_declares_every_attribute_in_both_states(aws) -> None:
    assert idempotency.begin("ws_idem", "k1", "hash-1") is None
    raw = _raw("WS#ws_idem", "IDEM#k1")
    assert undeclared_attributes(idempotency.IdempotencyRecord, raw) == set()
    idempotency.complete("ws_idem", "k1", "hash-1", status_code=202, body={"scan_job_id": "scan_1", "n": 1.5})
    raw = _raw("WS#ws_idem", "IDEM#k1")
    assert undeclared_attributes(idempotency.IdempotencyRecord, raw) == set()
    replayed = idempotency.begin("ws_idem", "k1", "hash-1")
    assert replayed == idempotency.StoredResponse(status_code=202, body={"scan_job_id": "scan_1", "n": 1.5})


def test_rate_window_counts_up_to_its_quota_and_leases_are_exclusive(aws) -> None:
    assert [rate_windows.count_hit("t:1", 600, 60, 2) for _ in range(3)] == [1, 2, None]
    assert rate_windows.count_hit("t:1", 660, 60, 2) == 1  # the next window starts over
    assert _raw("RL#t:1", "W#600")["expires_at"] == 600 + 60 + rate_windows.WINDOW_TTL_GRACE_SECONDS
    first = rate_windows.claim_flight_slot("wh:x", 1, "evt_1#1", 60)
    assert first == 0 and rate_windows.claim_flight_slot("wh:x", 1, "evt_2#1", 60) is None
    rate_windows.release_flight_slot("wh:x", 0, "evt_2#1")  # not the holder: no effect
    assert rate_windows.claim_flight_slot("wh:x", 1, "evt_2#1", 60) is None
    rate_windows.release_flight_slot("wh:x", 0, "evt_1#1")
    assert rate_windows.claim_flight_slot("wh:x", 1, "evt_2#1", 60) == 0


def test_a_key_for_a_missing_workspace_is_refused_and_not_written(aws) -> None:
    with pytest.raises(credentials.WorkspaceMissing):
        credentials.create_api_key("ws_missing", "orphan")
    assert credentials.list_api_keys("ws_missing", include_revoked=True) == []
