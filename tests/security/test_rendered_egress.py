"""SSRF through the rendered profile: a hostile page on 127.0.0.2 (the only address allowed) points
its markup and scripts at a canary on 127.0.0.1, at the metadata address and at [::1] — by img,
script, iframe, fetch, XHR, WebSocket, beacon, prefetch, service worker and redirect. The canary
counts TCP connections, not only requests: it must see none.

The egress proxy is exercised directly too (raw CONNECT and absolute-form requests), because the
browser is only one client of it: the guard must hold whatever a client sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from botscope.scanner import engine
from botscope.scanner.probe.browser import RenderLimits
from botscope.scanner.probe.egress_proxy import EgressLimits, EgressProxy
from botscope.scanner.targets import NetworkPolicy

from tests.fixtures.site import FixtureSite
from tests.security.conftest import CANARY_HOST, FIXTURE_HOST, Canary

pytestmark = pytest.mark.slow

ONLY_FIXTURE = NetworkPolicy.from_cidrs([f"{FIXTURE_HOST}/32"])


def no_names(host: str) -> list[str]:
    raise OSError("the tests resolve no names")


@pytest.fixture(scope="module")
def hostile_page(canary: Canary) -> Iterator[FixtureSite]:
    with FixtureSite("js_canary", canary_port=canary.port, host=FIXTURE_HOST) as site:
        yield site


@pytest.mark.parametrize(
    "policy",
    [ONLY_FIXTURE, NetworkPolicy.from_cidrs(["127.0.0.0/8"])],
    ids=["fixture-only", "all-loopback-allowed"],
)
def test_hostile_page_causes_zero_canary_connections(hostile_page, canary, policy):
    report = asyncio.run(
        engine.run_scan(
            hostile_page.url("/"),
            "quick",
            policy,
            resolver=no_names,
            render=True,
            render_options=engine.RenderOptions(limits=RenderLimits(page_budget=4.0, settle=1.5)),
        )
    )
    entry = next(e for e in report["rendered"] if e["path"] == "/")
    assert entry["outcome"] == "served"
    assert entry["refused_requests"] >= 10
    # the page itself and its service worker script were fetched through the proxy
    assert hostile_page.requests_for("/")
    assert canary.connections == [] and canary.requests == []


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(4096), 10)
    finally:
        writer.close()


def _proxy_run(
    target_port: int,
    requests: list[bytes],
    policy: NetworkPolicy = ONLY_FIXTURE,
    limits: EgressLimits | None = None,
    resolver=no_names,
) -> tuple[list[bytes], EgressProxy]:
    async def run() -> tuple[list[bytes], EgressProxy]:
        async with EgressProxy(FIXTURE_HOST, target_port, policy, resolver=resolver, limits=limits) as proxy:
            answers = [await _exchange(proxy.port, request) for request in requests]
            return answers, proxy

    return asyncio.run(run())


@pytest.mark.parametrize(
    "authority",
    [
        f"{CANARY_HOST}:{{port}}",
        "2130706433:{port}",
        "0x7f.1:{port}",
        "[::ffff:127.0.0.1]:{port}",
        "[::1]:{port}",
        "localhost:{port}",
        "169.254.169.254:80",
        "[fd00:ec2::254]:80",
        "0.0.0.0:{port}",
    ],
)
def test_connect_to_non_public_addresses_is_refused(hostile_page, canary, authority):
    authority = authority.format(port=canary.port)
    answers, proxy = _proxy_run(
        hostile_page.port, [f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode()]
    )
    assert answers[0].split(b"\r\n", 1)[0] in (b"HTTP/1.1 403 Forbidden", b"HTTP/1.1 400 Bad Request")
    assert proxy.stats.refused == 1
    assert canary.connections == []


def test_other_ports_of_the_allowed_host_are_refused(hostile_page, canary):
    # 127.0.0.2 is allowed for the scanned origin (its port), not for every service on that address
    other = f"{FIXTURE_HOST}:{canary.port}"
    answers, _ = _proxy_run(
        hostile_page.port, [f"GET http://{other}/ HTTP/1.1\r\nHost: {other}\r\n\r\n".encode()]
    )
    assert answers[0].startswith(b"HTTP/1.1 403")


def test_plain_http_to_the_target_is_forwarded_and_to_the_canary_refused(hostile_page, canary):
    target = f"{FIXTURE_HOST}:{hostile_page.port}"
    answers, proxy = _proxy_run(
        hostile_page.port,
        [
            f"GET http://{target}/robots.txt HTTP/1.1\r\nHost: {target}\r\nProxy-Connection: keep-alive\r\n\r\n".encode(),
            f"GET http://{CANARY_HOST}:{canary.port}/ HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        ],
    )
    assert answers[0].startswith(b"HTTP/1.1 200") and answers[1].startswith(b"HTTP/1.1 403")
    assert proxy.stats.target_requests == 1 and proxy.stats.refused == 1
    assert canary.connections == []


def test_a_name_is_resolved_once_and_rebinding_cannot_move_it(hostile_page, canary):
    answers_by_call = [[FIXTURE_HOST]]

    def rebinding(host: str) -> list[str]:
        return answers_by_call.pop(0) if answers_by_call else [CANARY_HOST]

    name = "rebind.test"
    get = f"GET http://{name}:{hostile_page.port}/robots.txt HTTP/1.1\r\nHost: {name}\r\n\r\n".encode()

    async def run() -> tuple[list[bytes], EgressProxy]:
        async with EgressProxy(name, hostile_page.port, ONLY_FIXTURE, resolver=rebinding) as proxy:
            return [await _exchange(proxy.port, get) for _ in range(2)], proxy

    answers, proxy = asyncio.run(run())
    # the second request goes to the address checked the first time, not to the new answer
    assert [a.split(b" ", 2)[1] for a in answers] == [b"200", b"200"]
    assert proxy.resolutions == 1
    assert canary.connections == []


def test_names_resolving_to_private_space_are_refused(hostile_page, canary):
    answers, _ = _proxy_run(
        hostile_page.port,
        [f"CONNECT internal.test:{canary.port} HTTP/1.1\r\n\r\n".encode()],
        resolver=lambda host: [CANARY_HOST],
    )
    assert answers[0].startswith(b"HTTP/1.1 403")
    assert canary.connections == []


def test_request_limits_and_budget(hostile_page, canary):
    target = f"{FIXTURE_HOST}:{hostile_page.port}"
    get = f"GET http://{target}/robots.txt HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()
    answers, proxy = _proxy_run(
        hostile_page.port, [get, get, get], limits=EgressLimits(max_target_requests=2)
    )
    assert [a.split(b" ", 2)[1] for a in answers] == [b"200", b"200", b"429"]
    assert proxy.stats.limit_hit == "target_requests"

    taken: list[int] = []

    async def with_budget() -> list[bytes]:
        def budget() -> bool:
            taken.append(1)
            return len(taken) <= 1

        async with EgressProxy(
            FIXTURE_HOST, hostile_page.port, ONLY_FIXTURE, resolver=no_names, budget=budget
        ) as budgeted:
            return [await _exchange(budgeted.port, get) for _ in range(2)]

    assert [a.split(b" ", 2)[1] for a in asyncio.run(with_budget())] == [b"200", b"429"]
