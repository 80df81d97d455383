"""The browser profile's curl client dials only what the SSRF guard checked, through curl's own
resolve pinning (no dialer seam in between): names curl could not resolve itself still work,
private answers and redirects into private space are refused before any connection."""

from __future__ import annotations

import asyncio

import pytest
from botscope.scanner.fetch import Fetcher
from botscope.scanner.targets import NetworkPolicy

LOCAL = NetworkPolicy.from_cidrs(["127.0.0.0/8"])
ONLY_127_0_0_2 = NetworkPolicy.from_cidrs(["127.0.0.2/32"])


def fetch(url, *, policy=LOCAL, resolver=None, limits=None, profile="browser"):
    async def run():
        async with Fetcher(policy, limits, resolver) as fetcher:
            return await fetcher.fetch(url, profile)

    return asyncio.run(run())


def test_a_name_that_resolves_to_a_private_address_is_refused_before_any_connect(canary):
    result = fetch(
        f"http://canary.test:{canary.port}/", policy=ONLY_127_0_0_2, resolver=lambda host: ["127.0.0.1"]
    )
    assert result.error is not None and result.error.code == "target_not_public"
    assert result.status is None and canary.hits == []


@pytest.mark.parametrize("path", ["/to-private", "/to-decimal", "/to-metadata"])
def test_a_redirect_to_a_private_address_is_refused(site, canary, path):
    result = fetch(site.url(path))
    assert result.error is not None and result.error.code == "target_not_public"
    assert result.status == 302 and len(result.redirect_chain) == 1
    assert canary.hits == []
    assert len(site.requests) == 1


def test_curl_connects_to_the_pinned_address_and_never_resolves_again(site):
    calls: list[str] = []

    def rebinding(host):
        calls.append(host)
        return ["127.0.0.1"] if len(calls) == 1 else ["10.0.0.1"]

    async def run():
        async with Fetcher(LOCAL, resolver=rebinding) as fetcher:
            return [await fetcher.fetch(f"http://rebind.test:{site.port}/p{i}", "browser") for i in range(3)]

    results = asyncio.run(run())
    # rebind.test exists in no DNS: curl reached the site only through the pinned address
    assert [r.status for r in results] == [200, 200, 200] and [r.http_version for r in results] == [
        "HTTP/1.1"
    ] * 3
    assert calls == ["rebind.test"]
    assert {r["host"] for r in site.requests} == {f"rebind.test:{site.port}"}


def test_the_environment_proxy_is_ignored(site, monkeypatch):
    # a proxy that would refuse everything: a request that used it would fail
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    result = fetch(site.url("/"))
    assert result.error is None and result.status == 200
