"""SSRF suite: every hostile target (hostile_targets.py) is refused with its problem code at every
entry point — the scanner's fetcher, ``POST /api/v1/scans``, ``POST /api/v1/webhooks`` and the
webhook sender's delivery-time check — and nothing is sent: the loopback canary records zero
connections, the recording network edge dials nothing, no workflow execution starts.

Then the attacks that need a live server: redirects from an allowed fixture (127.0.0.2/32 only)
into private space, DNS rebinding between check and connect, endless redirects, oversized and
compressed bodies, slow-drip and silent servers.

``BOTSCOPE_ALLOW_PRIVATE_TARGETS`` is empty here (production), so the canary on 127.0.0.1 is
forbidden like any other private address.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from botscope.config import reset_settings
from botscope.errors import BotScopeError
from botscope.scanner import engine
from botscope.scanner.fetch import Fetcher, FetchLimits
from botscope.scanner.targets import NetworkPolicy, guard_target
from botscope.webhooks import delivery, signing

from tests.security.conftest import (
    FIXTURE_HOST,
    Canary,
    HostileServer,
    RecordingBackend,
    SecurityStack,
    security_stack_context,
)
from tests.security.hostile_targets import (
    HOSTILE_TARGETS,
    INVALID,
    NOT_PUBLIC,
    RESOLVER_TABLE,
    UNRESOLVABLE,
    Hostile,
    table_resolver,
    webhook_url,
)

PROBLEM_JSON = "application/problem+json"
ROWS = [pytest.param(row, id=row.id) for row in HOSTILE_TARGETS]
# Every private address the test resolver hands out: none may appear in any answer we give.
RESOLVED_ADDRESSES = sorted(
    {a.split("%")[0] for answers in RESOLVER_TABLE.values() for a in answers}
    - {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"}
)
ONLY_FIXTURE = NetworkPolicy.from_cidrs([f"{FIXTURE_HOST}/32"])


def api_code(row: Hostile) -> str:
    """The request model caps ``target_url`` at 2048 characters (documented in the OpenAPI
    document), so an over-long URL is refused by validation before the guard sees it."""
    return "validation_error" if row.id == "too-long" else row.code


@pytest.fixture(autouse=True)
def production_network_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BOTSCOPE_ALLOW_PRIVATE_TARGETS", "")
    monkeypatch.setenv("BOTSCOPE_LOCAL_MODE", "false")
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="module")
def stack() -> Iterator[SecurityStack]:
    from botscope.service import scans as scan_service
    from botscope.webhooks import urls

    with security_stack_context() as built:
        previous_scan, previous_hook = scan_service.target_resolver, urls.DEFAULT_RESOLVER
        scan_service.target_resolver = table_resolver
        urls.DEFAULT_RESOLVER = table_resolver
        try:
            yield built
        finally:
            scan_service.target_resolver, urls.DEFAULT_RESOLVER = previous_scan, previous_hook


def fetch(
    url: str,
    policy: NetworkPolicy,
    resolver: Any = table_resolver,
    limits: FetchLimits | None = None,
    backend: RecordingBackend | None = None,
) -> Any:
    async def go() -> Any:
        async with Fetcher(policy, limits, resolver, network_backend=backend) as fetcher:
            return await fetcher.fetch(url, "browser")

    return asyncio.run(go())


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    for address in RESOLVED_ADDRESSES:  # never tell the caller what a name resolves to
        assert address not in body.get("detail", ""), (address, body)
    return body


# --- the table itself ----------------------------------------------------------------------------


def test_the_table_covers_every_family_of_trick():
    ids = [row.id for row in HOSTILE_TARGETS]
    assert len(ids) >= 60 and len(set(ids)) == len(ids)
    assert {row.code for row in HOSTILE_TARGETS} == {INVALID, NOT_PUBLIC, UNRESOLVABLE}
    required = {
        "loopback-decimal",
        "loopback-octal",
        "loopback-hex-full",
        "loopback-short",
        "v6-loopback",
        "v6-mapped-dotted",
        "v6-mapped-hex",
        "v6-compat",
        "v6-nat64",
        "v6-6to4",
        "localhost-upper",
        "loopback-trailing-dot",
        "userinfo-host",
        "loopback-fragment-trick",
        "loopback-percent",
        "loopback-fullwidth",
        "ula",
        "link-local",
        "link-local-v6",
        "metadata-aws",
        "metadata-aws-v6",
        "metadata-alibaba",
        "metadata-gcp-name",
        "unspecified",
        "unspecified-v6",
        "cgnat",
        "multicast-v4",
        "broadcast",
        "scheme-file",
        "scheme-gopher",
        "scheme-ftp",
        "scheme-dict",
        "scheme-javascript",
        "scheme-data",
        "port-zero",
        "port-too-big",
        "name-mixed-answers",
    }
    assert required <= set(ids), required - set(ids)


@pytest.mark.parametrize("row", ROWS)
def test_the_guard_gives_each_row_its_code(row: Hostile):
    for url in (row.render(9), webhook_url(row, 9)):
        with pytest.raises(BotScopeError) as info:
            guard_target(url, NetworkPolicy(), table_resolver)
        assert info.value.code == row.code, url


# --- scanner: the fetcher ------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS)
def test_fetcher_refuses_and_dials_nothing(row: Hostile, canary: Canary):
    backend = RecordingBackend()
    result = fetch(row.render(canary.port), NetworkPolicy(), backend=backend)
    assert result.error is not None and result.error.code == row.code
    assert result.status is None and not result.body
    assert backend.dialled == []
    assert not canary.touched


@pytest.mark.parametrize(
    "row",
    [
        r
        for r in ROWS
        if r.values[0].id
        in {
            "loopback-decimal",
            "v6-mapped-hex",
            "localhost-upper",
            "metadata-gcp-name",
            "userinfo-host",
            "scheme-gopher",
            "name-mixed-answers",
            "unspecified",
        }
    ],
)
def test_a_whole_scan_is_refused_before_any_request(row: Hostile, canary: Canary):
    with pytest.raises(BotScopeError) as info:
        asyncio.run(
            engine.run_scan(row.render(canary.port), "quick", NetworkPolicy(), resolver=table_resolver)
        )
    assert info.value.code == row.code
    assert not canary.touched


# --- API: POST /api/v1/scans -----------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS)
def test_scan_api_refuses_with_the_code(row: Hostile, stack: SecurityStack, canary: Canary):
    response = stack.client.post(
        "/api/v1/scans",
        headers=stack.headers(),
        json={"target_url": row.render(canary.port), "scan_mode": "quick"},
    )
    body = assert_problem(response, 422, api_code(row))
    assert body["errors"] and body["errors"][0]["field"] == "target_url"
    assert stack.executions() == []
    assert not canary.touched


@pytest.mark.parametrize(
    "row",
    [
        r
        for r in ROWS
        if r.values[0].id
        in {"loopback-hex-short", "metadata-aws", "name-to-10", "v6-nat64", "userinfo-password"}
    ],
)
def test_growth_enrollment_of_a_hostile_url_claims_no_slot(
    row: Hostile, stack: SecurityStack, canary: Canary
):
    response = stack.client.post(
        "/api/v1/scans",
        headers=stack.headers("growth"),
        json={"target_url": row.render(canary.port), "enroll_monitoring": True},
    )
    assert_problem(response, 422, row.code)
    monitoring = stack.client.get("/api/v1/monitoring", headers=stack.headers("growth")).json()
    assert monitoring["slots"]["used"] == 0 and monitoring["data"] == []
    assert stack.executions() == []


MCP_ROWS = {
    "loopback-decimal",
    "v6-nat64",
    "localhost-upper",
    "metadata-aws",
    "metadata-gcp-name",
    "rfc1918-10-short",
    "userinfo-host",
    "scheme-file",
    "name-mixed-answers",
    "unspecified-v6",
}


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].id in MCP_ROWS])
def test_mcp_create_scan_refuses_with_the_code(row: Hostile, stack: SecurityStack, canary: Canary):
    """The MCP tool shares the service layer: same guard, same code, as a tool error."""
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "create_scan", "arguments": {"target_url": row.render(canary.port)}},
    }
    response = stack.client.post(
        "/mcp",
        json=message,
        headers={
            **stack.headers(),
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-06-18",
        },
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["isError"] is True and result["structuredContent"]["error"]["code"] == row.code
    assert stack.executions() == []
    assert not canary.touched


# --- API: POST /api/v1/webhooks ------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS)
def test_webhook_api_refuses_with_the_code(row: Hostile, stack: SecurityStack, canary: Canary):
    response = stack.client.post(
        "/api/v1/webhooks",
        headers=stack.headers(),
        json={
            "label": f"hostile {row.id}",
            "url": webhook_url(row, canary.port),
            "event_types": ["scan.completed"],
        },
    )
    assert_problem(response, 422, row.code)
    assert not canary.touched


def test_no_hostile_webhook_was_stored(stack: SecurityStack):
    listed = stack.client.get("/api/v1/webhooks", headers=stack.headers())
    assert listed.status_code == 200 and listed.json()["data"] == []


# --- webhooks: the delivery-time check (DNS may have changed since creation) ----------------------------


@pytest.mark.parametrize("row", ROWS)
def test_webhook_sender_rechecks_and_sends_nothing(row: Hostile, canary: Canary):
    backend = RecordingBackend()
    result = delivery.send_attempt(
        webhook_url(row, canary.port),
        signing.generate_secret(),
        "evt_hostile",
        b'{"type":"webhook.test"}',
        timeout=2.0,
        resolver=table_resolver,
        network_backend=backend,
    )
    assert result.status_code is None and not result.delivered
    assert result.error is not None and result.error.startswith(row.code + ":"), result.error
    assert backend.dialled == []
    assert not canary.touched
    for address in RESOLVED_ADDRESSES:  # the attempt log is shown to the customer
        assert address not in result.error


# --- redirects from an allowed fixture into private space ------------------------------------------------

REDIRECTS = [
    ("/redirect/canary", NOT_PUBLIC),
    ("/redirect/canary-decimal", NOT_PUBLIC),
    ("/redirect/canary-hex", NOT_PUBLIC),
    ("/redirect/canary-v6-mapped", NOT_PUBLIC),
    ("/redirect/canary-localhost", NOT_PUBLIC),
    ("/redirect/canary-protocol-relative", NOT_PUBLIC),
    ("/redirect/canary-301", NOT_PUBLIC),
    ("/redirect/canary-303", NOT_PUBLIC),
    ("/redirect/canary-307", NOT_PUBLIC),
    ("/redirect/canary-308", NOT_PUBLIC),
    ("/redirect/two-hops", NOT_PUBLIC),
    ("/redirect/metadata", NOT_PUBLIC),
    ("/redirect/metadata-v6", NOT_PUBLIC),
    ("/redirect/private", NOT_PUBLIC),
    ("/redirect/file", INVALID),
    ("/redirect/gopher", INVALID),
    ("/redirect/userinfo", INVALID),
]


def test_the_allowed_fixture_is_reachable(hostile_site: HostileServer):
    """The control: with 127.0.0.2/32 allowed the fixture answers, so a refusal below is the guard's."""
    backend = RecordingBackend()
    result = fetch(hostile_site.url("/ok"), ONLY_FIXTURE, backend=backend)
    assert result.error is None and result.status == 200
    assert backend.dialled == [(FIXTURE_HOST, hostile_site.port)]
    assert not hostile_site.canary.touched


@pytest.mark.parametrize(("path", "code"), REDIRECTS)
def test_redirect_into_private_space_is_refused(path: str, code: str, hostile_site: HostileServer):
    backend = RecordingBackend()
    result = fetch(hostile_site.url(path), ONLY_FIXTURE, backend=backend)
    assert result.error is not None and result.error.code == code
    assert result.redirect_chain, "the refused hop is recorded as a redirect"
    assert hostile_site.requests_for(path), "the allowed first hop was fetched"
    assert {host for host, _ in backend.dialled} == {FIXTURE_HOST}
    assert not hostile_site.canary.touched


def test_a_scan_whose_target_redirects_into_private_space_fails_only_those_path_runs(
    hostile_site: HostileServer,
):
    report = asyncio.run(
        engine.run_scan(hostile_site.url("/redirect/canary"), "quick", ONLY_FIXTURE, resolver=table_resolver)
    )
    runs = [r for r in report["path_runs"] if r["path"] == "/redirect/canary"]
    assert runs and all(r["error"] and r["error"]["code"] == NOT_PUBLIC for r in runs)
    assert not hostile_site.canary.touched


def test_endless_redirects_stop_at_the_cap(hostile_site: HostileServer):
    limits = FetchLimits(max_redirects=5)
    before = len(hostile_site.requests_for("/endless"))
    result = fetch(hostile_site.url("/endless/0"), ONLY_FIXTURE, limits=limits)
    assert result.error is not None and result.error.code == "too_many_redirects"
    assert len(hostile_site.requests_for("/endless")) - before == limits.max_redirects + 1
    assert not hostile_site.canary.touched


# --- hostile bodies and timing -----------------------------------------------------------------------------


def test_oversized_body_is_cut_at_the_cap(hostile_site: HostileServer):
    cap = 256 * 1024
    result = fetch(hostile_site.url("/oversized"), ONLY_FIXTURE, limits=FetchLimits(max_body_bytes=cap))
    assert result.error is None and result.status == 200
    assert result.body_truncated is True
    assert len(result.body) == cap


def test_compression_bomb_is_cut_at_the_cap(hostile_site: HostileServer):
    cap = 256 * 1024
    result = fetch(hostile_site.url("/gzip-bomb"), ONLY_FIXTURE, limits=FetchLimits(max_body_bytes=cap))
    assert result.error is None and result.status == 200
    assert result.body_truncated is True
    assert len(result.body) == cap and set(result.body) == {0}


def test_slow_drip_is_ended_by_the_total_timeout(hostile_site: HostileServer):
    limits = FetchLimits(total_timeout=1.0, read_timeout=5.0)
    result = fetch(hostile_site.url("/slow-drip"), ONLY_FIXTURE, limits=limits)
    assert result.error is not None and result.error.code == "timeout"


def test_a_silent_server_is_ended_by_the_read_timeout(hostile_site: HostileServer):
    limits = FetchLimits(read_timeout=0.5, total_timeout=30.0)
    result = fetch(hostile_site.url("/silent"), ONLY_FIXTURE, limits=limits)
    assert result.error is not None and result.error.code == "timeout"
    assert result.status is None


# --- DNS rebinding: the answer changes between check and connect -------------------------------------------


class RebindingResolver:
    """First answer: the allowed fixture (127.0.0.2). Every later answer: the canary (127.0.0.1),
    which listens on the same port, so a second lookup would land there."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, host: str) -> list[str]:
        self.calls += 1
        return [FIXTURE_HOST] if self.calls == 1 else ["127.0.0.1"]


def test_rebinding_cannot_move_a_scan_request(hostile_site: HostileServer):
    resolver = RebindingResolver()
    backend = RecordingBackend()

    async def two_fetches() -> list[Any]:
        async with Fetcher(ONLY_FIXTURE, None, resolver, network_backend=backend) as fetcher:
            url = f"http://rebind.hostile.test:{hostile_site.port}/ok"
            return [await fetcher.fetch(url, "browser"), await fetcher.fetch(url, "ai_crawler")]

    results = asyncio.run(two_fetches())
    assert [r.status for r in results] == [200, 200]
    assert resolver.calls == 1, "the name is resolved once; connections reuse the checked address"
    assert {host for host, _ in backend.dialled} == {FIXTURE_HOST}
    assert not hostile_site.canary.touched
    # A later stage (a new Fetcher) resolves again, sees the private answer, and refuses.
    again = fetch(f"http://rebind.hostile.test:{hostile_site.port}/ok", ONLY_FIXTURE, resolver=resolver)
    assert again.error is not None and again.error.code == NOT_PUBLIC
    assert not hostile_site.canary.touched


@pytest.fixture
def local_webhooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local mode with only the fixture address allowed: http endpoints on 127.0.0.2 are accepted."""
    monkeypatch.setenv("BOTSCOPE_LOCAL_MODE", "true")
    monkeypatch.setenv("BOTSCOPE_ALLOW_PRIVATE_TARGETS", f"{FIXTURE_HOST}/32")
    reset_settings()
    yield
    reset_settings()


def test_rebinding_cannot_move_a_webhook_delivery(hostile_site: HostileServer, local_webhooks: None):
    from botscope.webhooks import urls

    resolver = RebindingResolver()
    url = f"http://rebind.hostile.test:{hostile_site.port}/ok"
    target, addresses = urls.guard_endpoint(url, resolver=resolver)  # creation: 127.0.0.2, accepted
    assert addresses == [ipaddress.ip_address(FIXTURE_HOST)]
    backend = RecordingBackend()
    result = delivery.send_attempt(
        url,
        signing.generate_secret(),
        "evt_rebind",
        b"{}",
        timeout=2.0,
        resolver=resolver,
        network_backend=backend,
    )  # delivery: now 127.0.0.1
    assert result.status_code is None and result.error.startswith(NOT_PUBLIC + ":")
    assert backend.dialled == []
    assert not hostile_site.canary.touched


def test_a_webhook_connects_to_the_address_it_checked(hostile_site: HostileServer, local_webhooks: None):
    """Resolution inside one attempt happens once: the POST goes to the checked 127.0.0.2."""
    backend = RecordingBackend()
    before = len(hostile_site.requests_for("/ok"))
    result = delivery.send_attempt(
        f"http://rebind.hostile.test:{hostile_site.port}/ok",
        signing.generate_secret(),
        "evt_pinned",
        b"{}",
        timeout=2.0,
        resolver=RebindingResolver(),
        network_backend=backend,
    )
    assert result.delivered
    assert backend.dialled == [(FIXTURE_HOST, hostile_site.port)]
    assert len(hostile_site.requests_for("/ok")) == before + 1
    assert not hostile_site.canary.touched


def test_a_webhook_redirect_is_never_followed(hostile_site: HostileServer, local_webhooks: None):
    backend = RecordingBackend()
    result = delivery.send_attempt(
        hostile_site.url("/redirect/canary"),
        signing.generate_secret(),
        "evt_redirect",
        b"{}",
        timeout=2.0,
        network_backend=backend,
    )
    assert result.status_code == 302 and not result.delivered
    assert len(backend.dialled) == 1
    assert not hostile_site.canary.touched


def test_a_silent_webhook_receiver_is_cut_off(hostile_site: HostileServer, local_webhooks: None):
    result = delivery.send_attempt(
        hostile_site.url("/silent"), signing.generate_secret(), "evt_silent", b"{}", timeout=0.5
    )
    assert result.status_code is None and result.error.startswith("timeout")
