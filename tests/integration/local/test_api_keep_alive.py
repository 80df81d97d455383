"""The local API keeps an idle keep-alive connection open longer than HTTP clients pool one, so a
pooled connection reused after a pause is answered, not reset (botscope.local.stack)."""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

import httpx
import pytest
from botscope.local.stack import API_KEEP_ALIVE_SECONDS, api_server_config

from tests.helpers.live_server import serve_app

pytestmark = pytest.mark.slow

# A pause longer than httpx pools a connection and than uvicorn's default keep-alive (both 5 s).
PAUSE_SECONDS = 6.0


def _health(conn: http.client.HTTPConnection) -> int:
    conn.request("GET", "/api/v1/health")
    response = conn.getresponse()
    response.read()
    return response.status


def test_the_keep_alive_outlasts_the_clients_pool() -> None:
    assert API_KEEP_ALIVE_SECONDS > httpx.Limits().keepalive_expiry > 0


def test_a_connection_reused_after_a_pause_is_answered() -> None:
    from botscope.api.app import create_app

    app = create_app()
    with serve_app(app, name="uvicorn-keep-alive-test", config=api_server_config(app)) as base:
        address = urlsplit(base)
        conn = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=10)
        try:
            assert _health(conn) == 200
            first_socket = conn.sock
            time.sleep(PAUSE_SECONDS)
            # The same connection after the pause: still open and answered (a closed one raises
            # RemoteDisconnected or ConnectionResetError here).
            assert _health(conn) == 200
            assert conn.sock is first_socket
        finally:
            conn.close()
