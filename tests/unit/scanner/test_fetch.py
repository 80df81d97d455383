"""The SSRF-guarded fetcher against real servers on 127.0.0.1 (fixture site + canary)."""

from __future__ import annotations

import asyncio
import socket
import time

import httpcore
import pytest
from botscope.scanner.fetch import Fetcher, FetchLimits, _PinnedBackend
from botscope.scanner.profiles import get_profile
from botscope.scanner.targets import NetworkPolicy

from tests.fixtures.site import CANARY_COOKIE_VALUE, FixtureSite

LOCAL = NetworkPolicy.from_cidrs(["127.0.0.0/8"])


class SpyBackend(httpcore.AsyncNetworkBackend):
    """Records where the fetcher actually dials."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.dialed: list[tuple[str, int]] = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.dialed.append((host, port))
        return await self.inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def sleep(self, seconds):
        await self.inner.sleep(seconds)


def fetch(url, profile="browser", *, policy=LOCAL, limits=None, resolver=None, backend=None, **kw):
    async def run():
        async with Fetcher(policy, limits, resolver, network_backend=backend) as fetcher:
            return await fetcher.fetch(url, profile, **kw)

    return asyncio.run(run())


def test_fetch_returns_status_headers_body_and_timing(site):
    result = fetch(site.url("/"))
    assert result.error is None
    assert result.status == 200
    assert result.final_url == site.url("/")
    assert b"Fixture Shop" in result.body and result.body_size == len(result.body)
    assert ("content-type", "text/html; charset=utf-8") in result.headers
    assert all(name == name.lower() for name, _ in result.headers)
    assert result.started_at and result.ttfb_ms is not None and result.duration_ms is not None


def test_request_carries_the_profile_headers_in_order_after_host(site):
    fetch(site.url("/"), "browser")
    seen = site.requests[-1]
    expected = ["Host"] + [name for name, _ in get_profile("browser").headers]
    assert seen["header_names"] == expected
    assert seen["host"] == f"127.0.0.1:{site.port}"
    fetch(site.url("/"), "ai_crawler")
    assert (
        "GPTBot/1.2" in site.requests[-1]["user_agent"] and "BotScopeAudit" in site.requests[-1]["user_agent"]
    )


def test_no_cookie_is_carried_between_requests_or_profiles(site):
    async def run():
        async with Fetcher(LOCAL) as fetcher:
            first = await fetcher.fetch(site.url("/"), "browser")
            await fetcher.fetch(site.url("/about"), "browser")
            await fetcher.fetch(site.url("/to-about"), "ai_agent")  # redirect hop too
            return first

    first = asyncio.run(run())
    assert any(name == "set-cookie" and CANARY_COOKIE_VALUE in value for name, value in first.headers)
    assert [r["cookie"] for r in site.requests] == ["", "", "", ""]


def test_body_is_capped_while_streaming(site):
    result = fetch(site.url("/big"), limits=FetchLimits(max_body_bytes=10_000))
    assert result.error is None and result.status == 200
    assert result.body_truncated is True
    assert len(result.body) == 10_000 and result.body_size > 10_000


def test_gzip_is_decoded_and_a_gzip_bomb_stops_at_the_cap(site):
    plain = fetch(site.url("/gzip"))
    assert b"Fixture Shop" in plain.body and not plain.body_truncated
    bomb = fetch(site.url("/gzip-bomb"), limits=FetchLimits(max_body_bytes=64 * 1024))
    assert bomb.body_truncated is True and len(bomb.body) == 64 * 1024
    assert bomb.body_size <= 2 * 64 * 1024  # never inflated much past the cap


def test_same_origin_redirect_is_followed_and_recorded(site):
    result = fetch(site.url("/to-about"))
    assert result.status == 200 and result.final_url == site.url("/about")
    assert [(h.status, h.location_path, h.same_origin) for h in result.redirect_chain] == [
        (301, "/about", True)
    ]


def test_redirects_stop_at_the_cap(site):
    result = fetch(site.url("/loop/0"), limits=FetchLimits(max_redirects=3))
    assert result.error is not None and result.error.code == "too_many_redirects"
    assert len(result.redirect_chain) == 4
    assert len(site.requests_for("/loop/0")) == 1 and len(site.requests) == 4


def test_follow_redirects_false_returns_the_redirect(site):
    result = fetch(site.url("/to-about"), follow_redirects=False)
    assert result.status == 301 and result.redirect_chain == [] and result.error is None
    assert len(site.requests) == 1


@pytest.mark.parametrize("path", ["/to-private", "/to-decimal", "/to-metadata"])
def test_redirect_into_private_space_is_refused_before_connecting(site, canary, path):
    spy = SpyBackend()
    result = fetch(site.url(path), backend=spy)
    assert result.error is not None and result.error.code == "target_not_public"
    assert result.status == 302 and len(result.redirect_chain) == 1
    assert spy.dialed == [("127.0.0.1", site.port)]
    assert canary.hits == []


def test_redirect_to_another_scheme_is_refused(site):
    result = fetch(site.url("/to-file"))
    assert result.error is not None and result.error.code == "invalid_target"


def test_slow_drip_hits_the_total_timeout(site):
    result = fetch(site.url("/drip"), limits=FetchLimits(total_timeout=0.5))
    assert result.error is not None and result.error.code == "timeout"


def test_request_budget_is_enforced_and_nothing_is_sent_past_it(site):
    async def run():
        async with Fetcher(LOCAL, FetchLimits(request_budget=2)) as fetcher:
            return [await fetcher.fetch(site.url(f"/p{i}"), "browser") for i in range(3)]

    results = asyncio.run(run())
    assert [r.error.code if r.error else None for r in results] == [None, None, "budget_exhausted"]
    assert len(site.requests) == 2


def test_budget_counts_redirect_hops(site):
    result = fetch(site.url("/loop/0"), limits=FetchLimits(request_budget=3))
    assert result.error is not None and result.error.code == "budget_exhausted"
    assert len(site.requests) == 3


def test_non_public_target_is_refused_without_any_request(site):
    result = fetch(site.url("/"), policy=NetworkPolicy())
    assert result.error is not None and result.error.code == "target_not_public"
    assert site.requests == []


def test_connects_to_the_checked_address_without_a_second_lookup(site):
    answers = [["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]]
    calls: list[str] = []

    def rebinding_resolver(host):
        calls.append(host)
        return answers[len(calls) - 1]

    spy = SpyBackend()

    async def run():
        async with Fetcher(LOCAL, resolver=rebinding_resolver, network_backend=spy) as fetcher:
            urls = [f"http://rebind.test:{site.port}/", f"http://rebind.test:{site.port}/about"]
            return [
                await fetcher.fetch(url, profile) for url in urls for profile in ("browser", "ai_crawler")
            ]

    results = asyncio.run(run())
    assert [r.status for r in results] == [200, 200, 200, 200]
    assert calls == ["rebind.test"]
    assert {host for host, _ in spy.dialed} == {"127.0.0.1"}
    assert {r["host"] for r in site.requests} == {f"rebind.test:{site.port}"}


def test_pinned_backend_refuses_hosts_that_were_not_checked():
    backend = _PinnedBackend({}, httpcore.AnyIOBackend())
    with pytest.raises(httpcore.ConnectError):
        asyncio.run(backend.connect_tcp("unchecked.test", 80))


def test_connection_refused_is_an_error_without_addresses():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = fetch(f"http://127.0.0.1:{port}/")
    assert result.error is not None and result.error.code == "connection_failed"
    assert "127.0.0.1" not in result.error.message


def test_per_host_concurrency_is_bounded(canary):
    with FixtureSite("clean", latency=0.15) as slow_site:

        async def run():
            async with Fetcher(LOCAL, FetchLimits(per_host_concurrency=2)) as fetcher:
                return await asyncio.gather(
                    *(
                        fetcher.fetch(slow_site.url(f"/p{i}"), profile)
                        for i in range(3)
                        for profile in ("browser", "ai_crawler")
                    )
                )

        results = asyncio.run(run())
        assert all(r.status == 200 for r in results)
        assert slow_site.max_in_flight <= 2
        assert len(slow_site.requests) == 6


# --- HTTPS: connect to the pinned address, but SNI, certificate check and Host use the name ------


def _tls_server_context(tmp_path, name: str):
    """A throwaway CA-less self-signed certificate for ``name``; returns (server ctx, client ctx)."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client


@pytest.fixture
def tls_site(tmp_path):
    server_ctx, client_ctx = _tls_server_context(tmp_path, "secure.test")
    seen_sni: list[str | None] = []
    server_ctx.sni_callback = lambda sock, name, ctx: seen_sni.append(name)
    with FixtureSite("clean") as site:
        server = site._server
        server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
        yield site, client_ctx, seen_sni


def test_https_uses_the_name_for_sni_and_certificate_while_dialing_the_checked_address(tls_site):
    site, client_ctx, seen_sni = tls_site
    spy = SpyBackend()

    async def run():
        async with Fetcher(
            LOCAL, resolver=lambda host: ["127.0.0.1"], network_backend=spy, ssl_context=client_ctx
        ) as fetcher:
            return await fetcher.fetch(f"https://secure.test:{site.port}/echo-host", "browser")

    result = asyncio.run(run())
    assert result.error is None and result.status == 200
    assert result.body == f"secure.test:{site.port}".encode()
    assert seen_sni == ["secure.test"]
    assert spy.dialed == [("127.0.0.1", site.port)]


def test_https_certificate_for_another_name_is_refused(tls_site):
    site, client_ctx, _ = tls_site

    async def run():
        async with Fetcher(LOCAL, resolver=lambda host: ["127.0.0.1"], ssl_context=client_ctx) as fetcher:
            return await fetcher.fetch(f"https://other.test:{site.port}/", "browser")

    result = asyncio.run(run())
    assert result.error is not None and result.error.code == "connection_failed"
    assert result.status is None


def test_a_resolver_that_hangs_is_given_up_on():
    def hanging(host):
        time.sleep(1)  # asyncio.run waits for the thread at shutdown: keep it short
        return ["127.0.0.1"]

    result = fetch("http://slow-dns.test/", resolver=hanging, limits=FetchLimits(connect_timeout=0.2))
    assert result.error is not None and result.error.code == "target_not_public"
    assert "in time" in result.error.message


def test_ipv6_literal_target_keeps_brackets_in_host_and_dials_the_address(site):
    # an IPv4-mapped IPv6 literal still reaches only 127.0.0.1 (allowed through its embedded IPv4)
    spy = SpyBackend()
    result = fetch(f"http://[::ffff:127.0.0.1]:{site.port}/echo-host", backend=spy)
    assert result.error is None and result.status == 200
    assert result.body == f"[::ffff:7f00:1]:{site.port}".encode()
    assert spy.dialed == [("::ffff:7f00:1", site.port)]


# --- send: one request with a body (webhook deliveries) ---------------------------------------------


@pytest.fixture
def post_receiver():
    """Records every POST (headers, body) and answers 301 with a large body it never expects read."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.append((self.command, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(301)
            self.send_header("location", "http://169.254.169.254/")
            self.send_header("content-length", str(10 * 1024 * 1024))
            self.end_headers()
            try:
                self.wfile.write(b"x" * 65536)
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def send(url, headers, body, *, policy=LOCAL, resolver=None, backend=None):
    from botscope.scanner.targets import normalize_target

    async def run():
        async with Fetcher(policy, None, resolver, network_backend=backend) as fetcher:
            return await fetcher.send(normalize_target(url), "POST", headers, body)

    return asyncio.run(run())


def test_send_posts_to_the_checked_address_with_the_name_as_host_and_never_follows_a_redirect(post_receiver):
    port, seen = post_receiver
    spy = SpyBackend()
    lookups = []
    answer = send(
        f"http://hooks.example.test:{port}/in?x=1",
        [("webhook-id", "evt_1"), ("content-type", "application/json")],
        b'{"ok":true}',
        resolver=lambda host: lookups.append(host) or ["127.0.0.1"],
        backend=spy,
    )
    assert answer.status == 301 and answer.header("location") == "http://169.254.169.254/"
    assert lookups == ["hooks.example.test"] and spy.dialed == [("127.0.0.1", port)]
    ((method, headers, body),) = seen  # the redirect is answered, not followed
    assert method == "POST" and body == b'{"ok":true}'
    assert headers["host"] == f"hooks.example.test:{port}" and headers["content-length"] == "11"
    assert headers["webhook-id"] == "evt_1"


def test_send_to_a_private_address_is_refused_without_dialling(post_receiver):
    from botscope.scanner.fetch import FetchFailure

    port, seen = post_receiver
    spy = SpyBackend()
    with pytest.raises(FetchFailure) as refused:
        send(
            f"http://hooks.example.test:{port}/in",
            [],
            b"{}",
            policy=NetworkPolicy(),
            resolver=lambda h: ["127.0.0.1"],
            backend=spy,
        )
    assert refused.value.code == "target_not_public" and "127.0.0.1" not in refused.value.message
    assert spy.dialed == [] and seen == []


def test_send_is_cut_off_at_the_total_timeout():
    """A server that accepts and never answers: ``total_timeout`` ends the exchange (cause ``deadline``)."""
    from botscope.scanner.fetch import FetchFailure
    from botscope.scanner.targets import normalize_target

    silent = socket.create_server(("127.0.0.1", 0))
    try:

        async def run():
            limits = FetchLimits(read_timeout=30, total_timeout=0.3)
            async with Fetcher(LOCAL, limits) as fetcher:
                target = normalize_target(f"http://127.0.0.1:{silent.getsockname()[1]}/in")
                return await fetcher.send(target, "POST", [], b"{}")

        with pytest.raises(FetchFailure) as cut:
            asyncio.run(run())
        assert cut.value.code == "timeout" and cut.value.cause == "deadline"
    finally:
        silent.close()
