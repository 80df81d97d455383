"""Issue 15 item 5: the audit record's ``source_ip`` and ``request_id`` are never what the caller
wrote. Served the way the local stack serves the API (``api_server_config``), ``X-Forwarded-For``
is ignored unless ``BOTSCOPE_TRUSTED_PROXIES`` names the peer; the request id is generated
server-side and a client's ``X-Request-Id`` is echoed only as ``X-Client-Request-Id``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import pytest
from botscope.config import reset_settings
from botscope.store import credentials

from tests.helpers.live_server import serve_app

SPOOFED = {
    "X-Forwarded-For": "203.0.113.77",
    "X-Real-IP": "203.0.113.78",
    "Forwarded": "for=203.0.113.79",
    "X-Request-Id": "attacker-chosen-id",
}


def _serve() -> contextlib.AbstractContextManager[str]:
    from botscope.api.app import create_app
    from botscope.local.stack import api_server_config

    app = create_app()
    return serve_app(app, name="uvicorn-audit-test", config=api_server_config(app))


@pytest.fixture
def served(aws, atomic_moto) -> Iterator[str]:
    with _serve() as url:
        yield url


def _audit_of_key_creation(base: str, key: str) -> dict:
    with httpx.Client(base_url=base) as client:
        created = client.post(
            "/api/v1/api-keys", json={"label": "ci"}, headers={"Authorization": f"Bearer {key}", **SPOOFED}
        )
        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] != "attacker-chosen-id"
        assert created.headers["x-client-request-id"] == "attacker-chosen-id"
        log = client.get("/api/v1/audit-log", headers={"Authorization": f"Bearer {key}"}).json()["data"]
    (record,) = [r for r in log if r["action"] == "key.created"]
    assert record["request_id"] == created.headers["x-request-id"]
    return record


def test_spoofed_forwarding_headers_do_not_reach_the_audit_log(served, workspace_factory) -> None:
    ws, key = workspace_factory("enterprise")
    record = _audit_of_key_creation(served, key)
    assert record["source_ip"] == "127.0.0.1"
    assert record["request_id"].startswith("req_")
    assert credentials.list_api_keys(ws["workspace_id"])


def test_forwarded_for_is_believed_only_from_a_configured_proxy(
    aws, atomic_moto, workspace_factory, monkeypatch
) -> None:
    monkeypatch.setenv("BOTSCOPE_TRUSTED_PROXIES", "127.0.0.1")
    reset_settings()
    try:
        with _serve() as url:
            _, key = workspace_factory("enterprise")
            assert _audit_of_key_creation(url, key)["source_ip"] == "203.0.113.77"
    finally:
        monkeypatch.delenv("BOTSCOPE_TRUSTED_PROXIES")
        reset_settings()
