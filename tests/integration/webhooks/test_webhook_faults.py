"""Issue 15 item 1 (fault test): one endpoint dribbles its response a byte at a time, one answers
500 with hostile ``Retry-After`` values, fifty are healthy. Driven by the local stack's SQS poller
(Lambda's event source mapping, several batches at once) over the real delivery handler.

* Healthy deliveries keep arriving while the dribbler's attempt is still being dribbled: nothing
  waits for it (an ordering of events, not a wall-clock threshold).
* The dribbler's attempt ends at the attempt deadline (the client closes the connection) and is
  recorded as a timed-out attempt with its cause.
* Every 500 attempt is recorded with its cause whatever ``Retry-After`` said (``²`` and the other
  values used to raise before the attempt was recorded, so SQS redelivered it for ever).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botscope.local.workers import LazyHandler, SqsPoller
from botscope.store import webhooks as store
from botscope.webhooks import fanout
from botscope.webhooks.schedule import MAX_RETRY_AFTER_SECONDS

from tests.integration.mcp.conftest import atomic_moto  # noqa: F401
from tests.integration.webhooks.support import receiver, settings_env

HEALTHY = 50
BATCH = 10  # messages per SQS receive (the event source mapping's batch size)
# Written on the wire as bytes: "²" as its Latin-1 byte (httpx decodes header values as Latin-1, so
# it reaches the parser as "²", which passes isdigit() and breaks int()), the others as UTF-8.
RETRY_AFTER_VALUES = [
    b"\xb2",
    "①".encode(),
    "１０".encode(),
    b"9" * 40,
    b"-30",
    b"Wed, 21 Oct 2015 07:28:00 GMT",
]


class _StaticHandler(LazyHandler):
    def __init__(self, handler: Any) -> None:
        super().__init__("webhook_deliver")
        self._handler = handler


class RawServer:
    """A TCP server on 127.0.0.1 whose connections are handled by ``serve(conn, index)``."""

    def __init__(self, serve: Any) -> None:
        self.serve = serve
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                index = self.connections
                self.connections += 1
            threading.Thread(target=self._run, args=(conn, index), daemon=True).start()

    def _run(self, conn: socket.socket, index: int) -> None:
        with conn:
            try:
                _read_request(conn)
                self.serve(conn, index)
            except OSError:
                pass

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()
        self.thread.join(5)


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


class Dribbler:
    """Answers one byte of a status line at a time, for as long as the client keeps reading, and
    notes (as events, in order) which healthy deliveries had arrived when the client hung up."""

    def __init__(self, healthy_count: Any) -> None:
        self.healthy_count = healthy_count
        self.started = threading.Event()
        self.healthy_seen_at_hangup: list[int] = []
        self.server = RawServer(self._serve)

    def _serve(self, conn: socket.socket, index: int) -> None:
        if index > 0:  # the retry is answered at once: only the first attempt meets the deadline
            conn.sendall(
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        self.started.set()
        payload = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 100000
        try:
            for byte in payload:
                conn.sendall(bytes([byte]))
                time.sleep(0.05)  # well under the per-read timeout: only the total deadline stops it
        except OSError:
            pass  # the client closed the connection: the attempt's deadline
        self.healthy_seen_at_hangup.append(self.healthy_count())


def _serve_500(conn: socket.socket, index: int) -> None:
    value = RETRY_AFTER_VALUES[index % len(RETRY_AFTER_VALUES)]
    conn.sendall(
        b"HTTP/1.1 500 Internal Server Error\r\nRetry-After: "
        + value
        + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )


@pytest.fixture
def servers() -> Iterator[tuple[Any, Dribbler, RawServer]]:
    with receiver() as healthy:
        dribbler = Dribbler(lambda: len(healthy.requests))
        failing = RawServer(_serve_500)
        try:
            yield healthy, dribbler, failing
        finally:
            dribbler.server.close()
            failing.close()


def _endpoint(workspace_factory: Any, url: str, counter: list[int], workspaces: list[str]) -> store.Webhook:
    from botscope.auth.principal import Principal
    from botscope.service import webhooks as service

    if counter[0] % store.MAX_ENDPOINTS_PER_WORKSPACE == 0:
        ws, _ = workspace_factory("growth")
        workspaces.append(ws["workspace_id"])
    counter[0] += 1
    principal = Principal(
        workspace_id=workspaces[-1],
        plan="growth",
        workspace_status="active",
        actor_type="api_key",
        actor_id="key_test",
    )
    created = service.create_webhook(principal, label="fault", url=url, event_types=["scan.completed"])
    endpoint = store.get_endpoint(workspaces[-1], created["webhook_id"])
    assert endpoint is not None
    return endpoint


def test_one_slow_and_one_failing_endpoint_do_not_delay_fifty_healthy_ones(
    aws,
    atomic_moto,  # noqa: F811
    deliver_handler,
    workspace_factory,
    servers,  # noqa: F811
) -> None:
    healthy, dribbler, failing = servers
    # A generous deadline: the fifty healthy deliveries must all land while the dribbler's first
    # attempt is still open, on a shared machine where moto handles a delivery in ~100 ms.
    with settings_env(
        BOTSCOPE_WEBHOOK_ATTEMPT_DEADLINE_SECONDS="20",
        BOTSCOPE_WEBHOOK_TIMEOUT_SECONDS="5",
        BOTSCOPE_WEBHOOK_RETRY_SCHEDULE="0",
    ):  # two attempts per event
        counter, workspaces = [0], []
        slow = _endpoint(
            workspace_factory, f"http://127.0.0.1:{dribbler.server.port}/slow", counter, workspaces
        )
        bad = _endpoint(workspace_factory, f"http://127.0.0.1:{failing.port}/bad", counter, workspaces)
        good = [
            _endpoint(workspace_factory, healthy.url(f"/ok/{n}"), counter, workspaces) for n in range(HEALTHY)
        ]

        slow_event, _ = fanout.send_test_event(slow.workspace_id, slow)
        bad_events = [fanout.send_test_event(bad.workspace_id, bad)[0] for _ in RETRY_AFTER_VALUES]
        assert dribbler.started.wait(0) is False
        good_events = [fanout.send_test_event(e.workspace_id, e)[0] for e in good]

        poller = SqsPoller(
            aws.webhook_queue_url,
            _StaticHandler(deliver_handler),
            region="us-east-1",
            batch_size=BATCH,
            function_name="WebhookDeliverFunction",
            wait_seconds=0,
            concurrency=4,
        )
        poller.start()
        try:
            deadline = time.monotonic() + 180  # liveness bound only: the assertions are on events
            while time.monotonic() < deadline:
                done = all(
                    _settled(store.get_delivery(e.webhook_id, ev))
                    for e, ev in [
                        (slow, slow_event),
                        *((bad, b) for b in bad_events),
                        *zip(good, good_events, strict=True),
                    ]
                )
                if done:
                    break
                time.sleep(0.2)
        finally:
            poller.stop(timeout=30)

    # Every healthy delivery arrived, once, on its first attempt. While the dribbler's attempt was
    # still open, deliveries kept arriving from batches received after the dribbler's own (that
    # batch holds at most BATCH - 1 other messages, and the six 500s come first): a poller or a
    # handler that waited for the dribbler would have let none of them through. On an idle
    # machine all fifty arrive before the hang-up.
    assert sorted(r.path for r in healthy.requests) == sorted(f"/ok/{n}" for n in range(HEALTHY))
    assert dribbler.healthy_seen_at_hangup and dribbler.healthy_seen_at_hangup[0] > BATCH
    for endpoint, event in zip(good, good_events, strict=True):
        delivery = store.get_delivery(endpoint.webhook_id, event)
        assert delivery is not None
        assert delivery.status == store.DELIVERED and delivery.attempt_count == 1

    # The dribbler: its attempt recorded as timed out at the deadline, with that cause; the retry
    # (answered at once with 500) recorded too.
    slow_delivery = store.get_delivery(slow.webhook_id, slow_event)
    assert slow_delivery is not None and slow_delivery.status == store.FAILED
    first, second = slow_delivery.attempts
    assert first.status_code is None and first.error and "attempt deadline of 20 s" in first.error
    assert second.status_code == 500 and second.error == "HTTP 500"
    assert len(dribbler.healthy_seen_at_hangup) == 1  # the client hung up on the dribbled attempt

    # The failing endpoint: every attempt recorded with its status, whatever Retry-After said.
    bad_deliveries = [store.get_delivery(bad.webhook_id, ev) for ev in bad_events]
    recorded = [a for delivery in bad_deliveries if delivery for a in delivery.attempts]
    assert len(recorded) == failing.connections
    assert all(a.status_code == 500 and a.error == "HTTP 500" for a in recorded)
    assert failing.connections >= len(RETRY_AFTER_VALUES)  # every hostile value was answered
    for ev in bad_events:
        delivery = store.get_delivery(bad.webhook_id, ev)
        assert delivery is not None
        if delivery.status == store.PENDING:
            # The 40-digit Retry-After on a first attempt: honoured up to the cap, never beyond.
            assert delivery.next_retry_at is not None
            wait = _parse(delivery.next_retry_at) - _parse(delivery.attempts[-1].at)
            assert 0 < wait.total_seconds() <= MAX_RETRY_AFTER_SECONDS
        else:
            assert delivery.status == store.FAILED and len(delivery.attempts) == 2


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _settled(delivery: store.Delivery | None) -> bool:
    """Finished, or parked by a Retry-After for longer than the test runs."""
    assert delivery is not None
    if delivery.status != store.PENDING:
        return True
    waiting = delivery.next_retry_at
    return bool(waiting) and (_parse(waiting) - datetime.now(UTC)).total_seconds() > 600
