"""Fixtures of the security suites: a canary that counts connections (not only requests), a hostile
fixture server on 127.0.0.2 paired with a canary on 127.0.0.1 *on the same port*, recording
network edges for the fetcher and the webhook sender, and one moto-backed API per module.

Why 127.0.0.2: the canary lives on 127.0.0.1 and the guard must refuse it. Tests that need an
allowed starting point (redirects, rebinding) allow only ``127.0.0.2/32``, where the hostile
server listens; everything else on loopback stays forbidden. Binding the canary on the same port
as the hostile server means a request that went to the wrong address (a second DNS answer, a
redirect hop) lands on the canary instead of failing to connect.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import boto3
import httpcore
import pytest

if TYPE_CHECKING:
    from botscope.store.workspaces import Workspace

FIXTURE_HOST = "127.0.0.2"
CANARY_HOST = "127.0.0.1"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = False  # never share a port with another test's server

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up early (body cap, timeouts) are expected


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class Canary:
    """Records every TCP connection and every HTTP request it receives. SSRF tests expect none."""

    def __init__(self, host: str = CANARY_HOST, port: int = 0) -> None:
        self.connections: list[tuple[str, int]] = []
        self.requests: list[str] = []
        self._lock = threading.Lock()
        canary = self

        class Handler(_Quiet):
            def do_GET(self) -> None:
                with canary._lock:
                    canary.requests.append(f"{self.command} {self.path}")
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

        class Server(_Server):
            def verify_request(self, request: Any, client_address: Any) -> bool:
                with canary._lock:
                    canary.connections.append(client_address)
                return True

        self._server = Server((host, port), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def touched(self) -> bool:
        with self._lock:
            return bool(self.connections or self.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- the hostile fixture server on 127.0.0.2 -----------------------------------------------------

Route = Callable[[BaseHTTPRequestHandler, "HostileServer"], None]


@dataclass
class HostileServer:
    """Plays hostile answers on 127.0.0.2:<port>; ``canary`` listens on 127.0.0.1:<same port>."""

    server: _Server
    canary: Canary
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: bool = False  # tells the silent route to give up when the server stops

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://{FIXTURE_HOST}:{self.port}{path}"

    def requests_for(self, prefix: str) -> list[str]:
        with self.lock:
            return [r for r in self.requests if r.startswith(prefix)]


def _redirect(location: str, status: int = 302) -> Route:
    def route(handler: BaseHTTPRequestHandler, site: HostileServer) -> None:
        handler.send_response(status)
        handler.send_header("Location", location.replace("{port}", str(site.port)))
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def _ok(handler: BaseHTTPRequestHandler, site: HostileServer) -> None:
    body = b"<html><head><title>fixture</title></head><body>hello</body></html>"
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _endless(handler: BaseHTTPRequestHandler, site: HostileServer) -> None:
    n = int(handler.path.rsplit("/", 1)[-1] or 0) if handler.path.rsplit("/", 1)[-1].isdigit() else 0
    _redirect(f"/endless/{n + 1}")(handler, site)


OVERSIZED_BYTES = 12 * 1024 * 1024


def _oversized(handler: BaseHTTPRequestHandler, site: HostileServer) -> None:
    """12 MB of body, streamed (chunked): the fetcher must stop at its cap."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"A" * 65536
    try:
        for _ in range(OVERSIZED_BYTES // len(chunk)):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        handler.wfile.write(b"0\r\n\r\n")
    except OSError:
        pass  # the client stopped reading at its cap


_BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MB inflated, ~64 KB on the wire


def _gzip_bomb(handler: BaseHTTPRequestHandler, site: HostileServer) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(_BOMB)))
    handler.end_headers()
    try:
        handler.wfile.write(_BOMB)
    except OSError:
        pass


def _slow_drip(handler: BaseHTTPRequestHandler, site: HostileServer) -> None:
    """Headers at once, then one byte every 0.2 s for up to a minute: only the total timeout ends it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    try:
        for _ in range(300):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.2)
    except OSError:
        pass


def _silent(handler: BaseHTTPRequestHandler, site: HostileServer) -> None:
    """Accepts the request and never answers (a tarpit): only the read timeout ends it."""
    for _ in range(300):
        time.sleep(0.2)
        if site.closing:
            return


ROUTES: dict[str, Route] = {
    "/ok": _ok,
    "/redirect/canary": _redirect("http://127.0.0.1:{port}/via-redirect"),
    "/redirect/canary-decimal": _redirect("http://2130706433:{port}/via-redirect"),
    "/redirect/canary-hex": _redirect("http://0x7f.1:{port}/via-redirect"),
    "/redirect/canary-v6-mapped": _redirect("http://[::ffff:127.0.0.1]:{port}/via-redirect"),
    "/redirect/canary-localhost": _redirect("http://localhost:{port}/via-redirect"),
    "/redirect/canary-protocol-relative": _redirect("//127.0.0.1:{port}/via-redirect"),
    "/redirect/canary-301": _redirect("http://127.0.0.1:{port}/via-redirect", 301),
    "/redirect/canary-303": _redirect("http://127.0.0.1:{port}/via-redirect", 303),
    "/redirect/canary-307": _redirect("http://127.0.0.1:{port}/via-redirect", 307),
    "/redirect/canary-308": _redirect("http://127.0.0.1:{port}/via-redirect", 308),
    "/redirect/two-hops": _redirect("/redirect/canary"),
    "/redirect/metadata": _redirect("http://169.254.169.254/latest/meta-data/"),
    "/redirect/metadata-v6": _redirect("http://[fd00:ec2::254]/latest/meta-data/"),
    "/redirect/private": _redirect("http://10.0.0.1/"),
    "/redirect/file": _redirect("file:///etc/passwd"),
    "/redirect/gopher": _redirect("gopher://127.0.0.1:{port}/_x"),
    "/redirect/userinfo": _redirect("http://example.com@127.0.0.1:{port}/via-redirect"),
    "/endless": _endless,
    "/oversized": _oversized,
    "/gzip-bomb": _gzip_bomb,
    "/slow-drip": _slow_drip,
    "/silent": _silent,
}


def _route_for(path: str) -> Route | None:
    if path in ROUTES:
        return ROUTES[path]
    if path.startswith("/endless"):
        return _endless
    return None


def _start_pair() -> HostileServer:
    """Hostile server on 127.0.0.2:P and canary on 127.0.0.1:P (retries if P is taken on .1)."""
    site_ref: dict[str, HostileServer] = {}

    class Handler(_Quiet):
        def do_GET(self) -> None:
            site = site_ref["site"]
            with site.lock:
                site.requests.append(self.path)
            route = _route_for(self.path.split("?", 1)[0])
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            route(self, site)

        do_POST = do_HEAD = do_GET

    last_error: OSError | None = None
    for _ in range(20):
        server = _Server((FIXTURE_HOST, 0), Handler)
        try:
            canary = Canary(CANARY_HOST, server.server_address[1])
        except OSError as exc:  # the port is in use on 127.0.0.1: try another
            last_error = exc
            server.server_close()
            continue
        site = HostileServer(server=server, canary=canary)
        site_ref["site"] = site
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return site
    raise RuntimeError(f"could not pair ports on 127.0.0.2 and 127.0.0.1: {last_error}")


@pytest.fixture(scope="module")
def hostile_site() -> Iterator[HostileServer]:
    site = _start_pair()
    try:
        yield site
    finally:
        site.closing = True
        site.server.shutdown()
        site.server.server_close()
        site.canary.close()


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    server = Canary()
    try:
        yield server
    finally:
        server.close()


# --- recording network edges -----------------------------------------------------------------------


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """The one HTTP client's network edge (scans and webhook deliveries): records every address it
    is asked to dial and dials only loopback (so a guard failure shows up as a canary hit, never as traffic leaving the host)."""

    def __init__(self) -> None:
        self.dialled: list[tuple[str, int]] = []
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> Any:
        self.dialled.append((host, port))
        if not host.startswith("127."):
            raise httpcore.ConnectError("test backend: only loopback is dialled")
        return await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> Any:
        self.dialled.append((path, 0))
        raise httpcore.ConnectError("test backend: no unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# --- a moto-backed API shared by a module --------------------------------------------------------


@dataclass
class SecurityStack:
    client: Any
    state_machine_arn: str
    keys: dict[str, str]  # plan -> dxk_ key
    workspaces: dict[str, Workspace]

    def executions(self) -> list[str]:
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        return [e["name"] for e in sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]]

    def headers(self, plan: str = "enterprise") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[plan]}"}


SECURITY_ENV = {
    "BOTSCOPE_ALLOW_PRIVATE_TARGETS": "",  # production: nothing private is reachable
    "BOTSCOPE_LOCAL_MODE": "false",
    "BOTSCOPE_RATE_LIMIT_REQUESTS": "0",  # the suites send hundreds of requests with one key
    "BOTSCOPE_MAX_CONCURRENT_SCANS": "0",
}


@contextmanager
def security_stack_context(extra_env: dict[str, str] | None = None) -> Iterator[SecurityStack]:
    """moto + the real app (TestClient) + one workspace per plan, with SECURITY_ENV applied."""
    from botscope.api.app import create_app
    from botscope.config import reset_settings
    from botscope.store import credentials, workspaces
    from botscope.store.table import reset_clients
    from fastapi.testclient import TestClient

    from tests.helpers.aws import mocked_aws

    with mocked_aws(extra_env={**SECURITY_ENV, **(extra_env or {})}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="botscope-security-workflow",
            roleArn="arn:aws:iam::123456789012:role/botscope-test-sfn",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
        previous = os.environ.get("BOTSCOPE_STATE_MACHINE_ARN")
        os.environ["BOTSCOPE_STATE_MACHINE_ARN"] = arn
        reset_settings()
        reset_clients()
        try:
            keys, spaces = {}, {}
            for plan in ("growth", "enterprise"):
                ws = workspaces.create_workspace(f"security {plan}", plan)
                spaces[plan] = ws
                keys[plan] = credentials.create_api_key(ws.workspace_id, "security suite").secret
            with TestClient(create_app(), base_url="http://127.0.0.1:8000") as client:
                yield SecurityStack(client=client, state_machine_arn=arn, keys=keys, workspaces=spaces)
        finally:
            if previous is None:
                os.environ.pop("BOTSCOPE_STATE_MACHINE_ARN", None)
            else:
                os.environ["BOTSCOPE_STATE_MACHINE_ARN"] = previous
            for name in SECURITY_ENV:
                os.environ.pop(name, None)
            reset_settings()
            reset_clients()
