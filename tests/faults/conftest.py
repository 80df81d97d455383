"""Fault injection fixtures.

``faults`` patches botocore at its edge (``BaseClient._make_api_call``, the last Python frame
before the request is signed and sent — moto answers below it) so a test can make a chosen AWS
call fail the way AWS fails it: throttling (``ProvisionedThroughputExceededException``), a lost
conditional write (``ConditionalCheckFailedException``), a service error. Everything else runs
for real against moto.

``fault_api`` is the real app (TestClient) with a trivial Pass state machine as the workflow edge,
a fake resolver (``*.example.com`` is public, nothing is contacted) and one webhook subscribed
to every event type, so "the customer is told" is observable as a queued delivery.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

PUBLIC_IP = "93.184.215.14"  # never contacted: the API only resolves


def fake_resolver(host: str) -> list[str]:
    if host == "example.com" or host.endswith(".example.com"):
        return [PUBLIC_IP]
    raise OSError(f"{host}: does not resolve")


@dataclass
class Rule:
    operation: str  # e.g. "TransactWriteItems"
    code: str  # AWS error code to raise
    on_call: int = 1  # the first matching call that fails (1-based)
    times: int = 1  # how many matching calls fail from there
    when: Callable[[dict[str, Any]], bool] | None = None
    seen: int = 0
    fired: int = 0


@dataclass
class Faults:
    rules: list[Rule] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(
        self,
        operation: str,
        code: str,
        *,
        on_call: int = 1,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Rule:
        rule = Rule(operation, code, on_call, times, when)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def check(self, operation: str, params: dict[str, Any]) -> None:
        with self.lock:
            self.calls.append(operation)
            for rule in self.rules:
                if rule.operation != operation or (rule.when is not None and not rule.when(params)):
                    continue
                rule.seen += 1
                if rule.seen >= rule.on_call and rule.fired < rule.times:
                    rule.fired += 1
                    raise ClientError(
                        {
                            "Error": {"Code": rule.code, "Message": "injected fault"},
                            "ResponseMetadata": {"HTTPStatusCode": 400},
                        },
                        operation,
                    )


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    injector = Faults()
    original = BaseClient._make_api_call

    def make_api_call(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        injector.check(operation_name, api_params)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)
    return injector


@pytest.fixture
def atomic_moto(atomic_dynamodb: None) -> None:
    """Concurrency tests name this for clarity: the shared ``aws`` fixture already applies each
    DynamoDB request atomically, as the real service does (botscope.local.atomic_dynamodb)."""


# --- the API with a workflow edge and a subscribed webhook ------------------------------------------


@dataclass
class FaultApi:
    client: Any
    state_machine_arn: str
    workspace_id: str
    key: str
    webhook_id: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def executions(self) -> list[str]:
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        return [e["name"] for e in sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]]

    def slots_used(self) -> int:
        return int(self.client.get("/api/v1/monitoring", headers=self.headers()).json()["slots"]["used"])

    def monitored(self) -> list[dict[str, Any]]:
        return list(self.client.get("/api/v1/monitoring", headers=self.headers()).json()["data"])

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Deliveries queued for the workspace's webhook (what the customer will be told)."""
        data = self.client.get(
            f"/api/v1/webhooks/{self.webhook_id}/deliveries", headers=self.headers(), params={"limit": 100}
        ).json()["data"]
        return [d for d in data if event_type is None or d["event_type"] == event_type]


@pytest.fixture
def fault_api(
    aws: Any, state_machine: str, workspace_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultApi]:
    from botscope.api.app import create_app
    from botscope.config import reset_settings
    from botscope.service import scans as scan_service
    from botscope.store.table import reset_clients
    from botscope.webhooks import urls
    from fastapi.testclient import TestClient

    monkeypatch.setenv("BOTSCOPE_ALLOW_PRIVATE_TARGETS", "")
    monkeypatch.setenv("BOTSCOPE_RATE_LIMIT_REQUESTS", "0")
    monkeypatch.setattr(scan_service, "target_resolver", fake_resolver)
    monkeypatch.setattr(urls, "DEFAULT_RESOLVER", fake_resolver)
    reset_settings()
    reset_clients()
    ws, key = workspace_factory("growth")
    # raise_server_exceptions=False: an injected AWS fault must reach the client as the 5xx problem
    # response a real caller would get, not as an exception re-raised inside the test.
    with TestClient(create_app(), base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as client:
        hook = client.post(
            "/api/v1/webhooks",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "label": "ops",
                "url": "https://hooks.example.com/botscope",
                "event_types": ["scan.completed", "scan.failed", "monitoring.findings_changed"],
            },
        )
        assert hook.status_code == 201, hook.text
        yield FaultApi(
            client,
            os.environ["BOTSCOPE_STATE_MACHINE_ARN"],
            ws["workspace_id"],
            key,
            hook.json()["webhook_id"],
        )
    reset_settings()


# --- a webhook receiver on 127.0.0.1 -------------------------------------------------------------------


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    hits: list[dict[str, str]] = field(default_factory=list)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            rec = box["r"]
            with rec.lock:
                rec.hits.append({"webhook-id": self.headers.get("webhook-id", "")})
            self.send_response(rec.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box["r"] = Receiver(server)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()
