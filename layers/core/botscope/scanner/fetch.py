"""BotScope's one SSRF-pinned HTTP client: the scanner's fetches and the webhook deliveries
(``botscope.webhooks.delivery`` sends through ``Fetcher.send``), each with strict limits passed
in by the caller (``NetworkPolicy``, ``FetchLimits``; the client reads no configuration).

How the guarantees are kept:

* Every host is resolved once per ``Fetcher`` (one scan, one pipeline stage, or one webhook
  attempt), every address is checked (``targets.resolve_and_check``) and the checked addresses are *pinned*. Connections go
  through ``_PinnedBackend``, which dials only pinned addresses and refuses any host that was not
  checked; the URL, ``Host`` header and TLS SNI/certificate check keep the host name. No second
  DNS lookup happens, so rebinding cannot redirect a request.
* Redirects are followed by hand: each hop is normalized and checked like the first.
  ``Fetcher.send`` (a single request with a body, for webhooks) never follows one.
* httpcore is used directly (not httpx) so there is no cookie jar at all (nothing is carried
  between requests or profiles), no proxy taken from the environment, and the network backend
  can be swapped for the pinned one through public API.
* Bodies are streamed and decoded here, bounded: the decompressor never produces more than the
  cap (a small gzip bomb cannot inflate in memory). ``Fetcher.send`` reads no body at all.
* Each profile gets its own connection pool, so connections are never shared between the
  "clients" a scan plays.
* Profiles whose wire client is ``curl_cffi`` (the browser) are sent by
  ``botscope.scanner.probe.curl_transport`` with the same pins, limits and checks: see there how
  each guarantee is kept with libcurl. The rest use httpcore as described above.

Errors inside a fetch become ``FetchResult.error`` (a failed path run does not fail the scan);
``Fetcher.send`` raises ``FetchFailure``. Messages never contain IP addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import certifi
import httpcore

from botscope.errors import InvalidTarget, TargetNotPublic, TargetUnresolvable
from botscope.isotime import now_iso
from botscope.scanner.model import FetchResult, ProbeError, ProfileId, RedirectHop, Target
from botscope.scanner.profiles import Profile, get_profile
from botscope.scanner.targets import (
    IPAddress,
    NetworkPolicy,
    Resolver,
    is_ip_literal,
    normalize_target,
    resolve_and_check,
)
from botscope.scanner.vocabulary import ProbeErrorCode

if TYPE_CHECKING:
    from botscope.scanner.probe.curl_transport import CurlTransport
    from botscope.scanner.probe.web_bot_auth import WebBotAuthSigner

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float = 5.0
    read_timeout: float = 10.0  # between two reads
    total_timeout: float = 20.0  # the whole fetch, redirects included
    max_body_bytes: int = 2 * 1024 * 1024
    max_redirects: int = 5
    # Parallel requests to one host, all profiles together. One browser loading one page keeps
    # about this many requests in flight to a host (6 HTTP/1.1 connections, more streams over
    # HTTP/2), so a scan never looks busier than a single visitor; at 4 a full scan could not be
    # 5x faster than sequential (benchmark target), since the bound caps the speed-up.
    per_host_concurrency: int = 8
    request_budget: int = 80  # requests (redirect hops included) per Fetcher
    # Checked addresses tried per connection (the next one when one does not answer); None: all.
    max_addresses_per_connect: int | None = None


class FetchFailure(Exception):
    """A request that got no usable answer. ``code`` says what kind (``timeout``,
    ``connection_failed``, ``target_not_public``, …); ``cause`` names what ended it without any
    address: the network error's class name, or ``deadline`` when ``total_timeout`` passed."""

    def __init__(self, code: ProbeErrorCode, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.cause = cause or code


@dataclass(frozen=True)
class Answer:
    """What ``Fetcher.send`` got back: the status and the headers (names lower-cased). The body is
    not read, so its size cannot matter."""

    status: int
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Dials the checked addresses of a host instead of resolving its name again."""

    def __init__(
        self,
        pins: dict[str, list[IPAddress]],
        inner: httpcore.AsyncNetworkBackend,
        max_addresses: int | None = None,
    ) -> None:
        self._pins = pins
        self._inner = inner
        self._max_addresses = max_addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self._pins.get(host.lower())
        if not addresses:
            raise httpcore.ConnectError("refusing to connect to a host that was not checked")
        last_error: Exception | None = None
        for address in addresses[: self._max_addresses]:  # the next checked address when one does not answer
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not reachable from the scanner")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _BoundedDecoder:
    """Content-Encoding decoding that never yields more than asked for."""

    def __init__(self, content_encoding: str | None) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        self.coding = codings[0] if len(codings) == 1 else ("" if not codings else "unsupported")
        self._zlib = None
        if self.coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self.coding == "deflate":
            self._zlib = zlib.decompressobj()
        self._first = True
        self.failed = False

    def feed(self, data: bytes, limit: int) -> bytes:
        if self._zlib is None or self.failed:
            # identity, or a coding we did not ask for (br, zstd): keep the bytes as they are
            return b"" if self.failed else data[:limit]
        try:
            out = self._zlib.decompress(data, limit)
        except zlib.error:
            if self.coding == "deflate" and self._first:
                # Some servers send raw deflate without the zlib wrapper.
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                self._first = False
                return self.feed(data, limit)
            self.failed = True
            return b""
        self._first = False
        return out


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """Certificate-verifying context, built once per process (loading the CA bundle is slow)."""
    return ssl.create_default_context(cafile=certifi.where())


@functools.lru_cache(maxsize=4)
def _ssl_context_with(extra_ca_bundle: str) -> ssl.SSLContext:
    """certifi's CAs plus the extra bundle (verification stays on)."""
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_verify_locations(cafile=extra_ca_bundle)
    return context


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


class Fetcher:
    """SSRF-guarded fetches for one scan (or one pipeline stage): the pins, the per-host
    concurrency slots and the request budget live here. Use as ``async with Fetcher(...)``."""

    def __init__(
        self,
        policy: NetworkPolicy | None = None,
        limits: FetchLimits | None = None,
        resolver: Resolver | None = None,
        *,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
        extra_ca_bundle: str | None = None,
        signer: WebBotAuthSigner | None = None,
    ) -> None:
        """``extra_ca_bundle``: a PEM file of CAs trusted in addition to certifi's (the
        ``BOTSCOPE_EXTRA_CA_BUNDLE`` setting, for test CAs). ``network_backend`` and
        ``ssl_context`` are test seams: the dialer (for both wire clients) and the CAs to trust.
        ``signer``: BotScope's Web Bot Auth key, for profiles that sign (``signed_agent``)."""
        self._signer = signer
        self.signs = signer is not None
        self.policy = policy or NetworkPolicy()
        self.limits = limits or FetchLimits()
        self._resolver = resolver
        self._pins: dict[str, list[IPAddress]] = {}
        self._pin_locks: dict[str, asyncio.Lock] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._pools: dict[str, httpcore.AsyncConnectionPool] = {}
        self._backend = _PinnedBackend(
            self._pins, network_backend or httpcore.AnyIOBackend(), self.limits.max_addresses_per_connect
        )
        self._ssl_override = ssl_context  # tests trust their own CA; production uses certifi
        if extra_ca_bundle and ssl_context is None:
            self._ssl_override = _ssl_context_with(extra_ca_bundle)
        self._extra_ca_bundle = extra_ca_bundle
        self._curl_dialer = self._backend if network_backend is not None else None
        self._curl_trust = ssl_context
        self._curl: CurlTransport | None = None  # created on the first curl request (its import is heavy)
        self.requests_made = 0
        self.resolutions = 0

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            with contextlib.suppress(Exception):
                await pool.aclose()
        if self._curl is not None:
            await self._curl.aclose()

    # --- guard ---------------------------------------------------------------------------------

    async def guard(self, target: Target) -> list[IPAddress]:
        """Resolve and check ``target``'s host and pin its addresses. Raises ``TargetNotPublic``."""
        host = target.host
        if host in self._pins:
            return self._pins[host]
        lock = self._pin_locks.setdefault(host, asyncio.Lock())
        async with lock:
            if host not in self._pins:
                self.resolutions += 1
                # getaddrinfo blocks and has no timeout of its own: run it off the event loop and
                # stop waiting after the connect timeout.
                try:
                    async with asyncio.timeout(self.limits.connect_timeout):
                        self._pins[host] = await asyncio.to_thread(
                            resolve_and_check, host, target.port, self.policy, self._resolver
                        )
                except TimeoutError:
                    raise TargetNotPublic("the host name did not resolve in time") from None
        return self._pins[host]

    async def guard_url(self, url: str) -> Target:
        """Normalize and guard a customer URL, raising the typed errors (plan / CLI)."""
        target = normalize_target(url)
        await self.guard(target)
        return target

    # --- fetch ---------------------------------------------------------------------------------

    async def fetch(
        self, url: str, profile: ProfileId | Profile, *, follow_redirects: bool = True
    ) -> FetchResult:
        client = get_profile(profile)
        result = FetchResult(url=url, started_at=now_iso())
        clock = _Clock()
        try:
            async with asyncio.timeout(self.limits.total_timeout):
                await self._fetch_into(result, url, client, follow_redirects, clock)
        except TimeoutError:
            result.error = ProbeError(
                code="timeout", message=f"no complete answer within {self.limits.total_timeout:g} s"
            )
        except FetchFailure as failure:
            result.error = ProbeError(code=failure.code, message=failure.message)
        result.duration_ms = _ms(clock.active())
        return result

    async def _fetch_into(
        self, result: FetchResult, url: str, client: Profile, follow_redirects: bool, clock: _Clock
    ) -> None:
        first_origin: str | None = None
        current = url
        for _hop in range(self.limits.max_redirects + 1):
            try:
                target = normalize_target(current)
            except InvalidTarget as exc:
                raise FetchFailure("invalid_target", exc.message) from None
            first_origin = first_origin or target.origin
            async with self._admitted(target, clock, redirected=bool(result.redirect_chain)):
                next_url = await self._one_request(
                    result, target, client, follow_redirects, first_origin, clock
                )
            if next_url is None:
                return
            current = next_url
        raise FetchFailure("too_many_redirects", f"more than {self.limits.max_redirects} redirects")

    async def _one_request(
        self,
        result: FetchResult,
        target: Target,
        client: Profile,
        follow_redirects: bool,
        first_origin: str,
        clock: _Clock,
    ) -> str | None:
        """Send one request; fill ``result`` and return None, or return the next hop's URL."""
        host_header = _authority(target)
        client = self._signed_for(client, host_header)
        if client.client == "curl_cffi":
            return await self._one_curl_request(
                result, target, client, host_header, follow_redirects, first_origin
            )
        request = self._request(b"GET", target, client.headers)
        hop_started = time.monotonic()
        async with self._exchange(client.id, request) as response:
            _record_head(result, response, hop_started)
            location = _location(result.headers)
            if follow_redirects and response.status in REDIRECT_STATUSES and location:
                return self._next_hop(result, target, location, response.status, first_origin)
            result.final_url = target.url
            await self._read_body(result, response, clock)
            return None

    def _signed_for(self, client: Profile, host_header: str) -> Profile:
        """The profile with this hop's Web Bot Auth headers when it signs (the signature covers the
        hop's authority, so every hop is signed anew)."""
        if client.signing != "web-bot-auth":
            return client
        if self._signer is None:
            raise FetchFailure("signing_unavailable", "no Web Bot Auth key is configured")
        return dataclasses.replace(
            client, headers=client.headers + tuple(self._signer.request_headers(host_header))
        )

    # --- send: one request with a body (webhook deliveries) ------------------------------------

    async def send(
        self,
        target: Target,
        method: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        *,
        pool_id: str = "send",
    ) -> Answer:
        """One request with ``body`` to ``target`` over a pinned connection. ``target`` is guarded
        here too (after the caller's own ``guard`` this is the cached check, no second lookup). A
        redirect is answered, never followed; the response body is not read. The whole exchange
        is bounded by ``total_timeout``, each connect and read by theirs. Raises ``FetchFailure``."""
        clock = _Clock()
        try:
            async with asyncio.timeout(self.limits.total_timeout):
                async with self._admitted(target, clock):
                    request = self._request(method.encode("ascii"), target, headers, body)
                    async with self._exchange(pool_id, request) as response:
                        return Answer(status=response.status, headers=_header_list(response))
        except TimeoutError:
            raise FetchFailure(
                "timeout", f"no complete answer within {self.limits.total_timeout:g} s", "deadline"
            ) from None

    # --- one exchange over httpcore ------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _admitted(
        self, target: Target, clock: _Clock, *, redirected: bool = False
    ) -> AsyncIterator[None]:
        """Guard ``target``, spend one request of the budget, and hold a per-host slot meanwhile."""
        try:
            await self.guard(target)
        except TargetNotPublic as exc:
            message = f"a redirect was refused: {exc.message}" if redirected else exc.message
            code: ProbeErrorCode = (
                "target_unresolvable" if isinstance(exc, TargetUnresolvable) else "target_not_public"
            )
            raise FetchFailure(code, message) from None
        if self.requests_made >= self.limits.request_budget:
            raise FetchFailure(
                "budget_exhausted", f"the scan's request budget ({self.limits.request_budget}) is spent"
            )
        self.requests_made += 1
        async with self._slot(target.host, clock):
            yield

    def _request(
        self, method: bytes, target: Target, headers: Sequence[tuple[str, str]], body: bytes | None = None
    ) -> httpcore.Request:
        """The request for ``target``: its host name in the URL (the pinned backend dials the
        checked address; TLS SNI and the certificate check use the name) and in ``Host``."""
        wire_headers = [(b"Host", _authority(target).encode("ascii"))]
        wire_headers += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        if body is not None:
            wire_headers.append((b"Content-Length", str(len(body)).encode("ascii")))
        return httpcore.Request(
            method=method,
            url=httpcore.URL(
                scheme=target.scheme.encode(),
                host=target.host.encode("ascii"),
                port=target.port,
                target=target.path.encode("ascii"),
            ),
            headers=wire_headers,
            content=body,
            extensions={
                "timeout": {
                    "connect": self.limits.connect_timeout,
                    "read": self.limits.read_timeout,
                    "write": self.limits.read_timeout,
                    "pool": self.limits.total_timeout,
                }
            },
        )

    @contextlib.asynccontextmanager
    async def _exchange(self, pool_id: str, request: httpcore.Request) -> AsyncIterator[httpcore.Response]:
        """The response to ``request`` from the pool ``pool_id``, closed on leaving. Network
        errors (while connecting, or while the caller reads) become ``FetchFailure``."""
        try:
            response = await self._pool(pool_id).handle_async_request(request)
            try:
                yield response
            finally:
                await response.aclose()
        except httpcore.TimeoutException as exc:
            raise FetchFailure("timeout", "the server did not answer in time", type(exc).__name__) from None
        except httpcore.ConnectError as exc:
            raise FetchFailure(
                "connection_failed", "could not connect to the host", type(exc).__name__
            ) from None
        except (httpcore.NetworkError, httpcore.ProtocolError, ssl.SSLError) as exc:
            raise FetchFailure(
                "connection_failed", "the connection failed during the exchange", type(exc).__name__
            ) from None

    async def _one_curl_request(
        self,
        result: FetchResult,
        target: Target,
        client: Profile,
        host_header: str,
        follow_redirects: bool,
        first_origin: str,
    ) -> str | None:
        from botscope.scanner.probe.curl_transport import CurlFailure, CurlTransport, WireProfile

        assert client.impersonate is not None
        if self._curl is None:
            self._curl = CurlTransport(
                extra_ca_bundle=self._extra_ca_bundle, ssl_context=self._curl_trust, dialer=self._curl_dialer
            )
        wire = WireProfile(impersonate=client.impersonate, headers=client.headers, http2=client.http2)

        def wants_body(status: int, headers: list[tuple[str, str]]) -> bool:
            has_location = any(name == "location" for name, _ in headers)
            return not (follow_redirects and status in REDIRECT_STATUSES and has_location)

        try:
            answer = await self._curl.request(
                pool_id=client.id,
                url=target.url,
                host_header=host_header,
                host=target.host,
                port=target.port,
                addresses=[] if is_ip_literal(target.host) else self._pins[target.host],
                profile=wire,
                connect_timeout=self.limits.connect_timeout,
                read_timeout=self.limits.read_timeout,
                total_timeout=self.limits.total_timeout,
                max_body_bytes=self.limits.max_body_bytes,
                read_body=wants_body,
            )
        except CurlFailure as failure:
            raise FetchFailure(failure.code, failure.message) from None
        result.ttfb_ms = None if answer.ttfb_seconds is None else _ms(answer.ttfb_seconds)
        result.status = answer.status
        result.headers = answer.headers
        result.http_version = answer.http_version
        location = _location(result.headers)
        if follow_redirects and answer.status in REDIRECT_STATUSES and location:
            return self._next_hop(result, target, location, answer.status, first_origin)
        result.final_url = target.url
        result.body = answer.body
        result.body_size = answer.body_size
        result.body_truncated = answer.body_truncated
        return None

    def _next_hop(
        self, result: FetchResult, target: Target, location: str, status: int, first_origin: str
    ) -> str:
        next_url = urljoin(target.url, location.strip())
        scheme = urlsplit(next_url).scheme.lower()
        same_origin = False
        location_path = None
        try:
            hop_target = normalize_target(next_url)
            same_origin = hop_target.origin == first_origin
            location_path = hop_target.path if same_origin else None
        except InvalidTarget:
            pass
        result.redirect_chain.append(
            RedirectHop(status=status, location_path=location_path, same_origin=same_origin)
        )
        if scheme not in ("http", "https"):
            raise FetchFailure("invalid_target", "a redirect leads to a URL that is not http(s)")
        return next_url

    async def _read_body(self, result: FetchResult, response: httpcore.Response, clock: _Clock) -> None:
        cap = self.limits.max_body_bytes
        encoding = next((v for n, v in result.headers if n == "content-encoding"), None)
        decoder = _BoundedDecoder(encoding)
        body = bytearray()
        read = 0
        stream: AsyncIterator[bytes] = response.aiter_stream()
        async for chunk in stream:
            result.last_byte_ms = _ms(clock.active())
            piece = decoder.feed(chunk, cap + 1 - len(body))
            read += len(piece)
            body += piece
            if len(body) > cap:
                result.body_truncated = True
                break
        del body[cap:]
        result.body = bytes(body)
        result.body_size = read

    # --- plumbing ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _slot(self, host: str, clock: _Clock) -> AsyncIterator[None]:
        semaphore = self._slots.setdefault(host, asyncio.Semaphore(self.limits.per_host_concurrency))
        waited = time.monotonic()
        async with semaphore:
            clock.waited += time.monotonic() - waited
            yield

    def _pool(self, profile_id: str) -> httpcore.AsyncConnectionPool:
        pool = self._pools.get(profile_id)
        if pool is None:
            pool = httpcore.AsyncConnectionPool(
                ssl_context=self._ssl_override or _ssl_context(),
                max_connections=self.limits.per_host_concurrency * 4,
                max_keepalive_connections=self.limits.per_host_concurrency * 2,
                keepalive_expiry=5.0,
                http1=True,
                http2=False,
                retries=0,
                network_backend=self._backend,
            )
            self._pools[profile_id] = pool
        return pool


def _authority(target: Target) -> str:
    """``host[:port]`` as the ``Host`` header carries it (the port only when not the default)."""
    return target.origin.split("://", 1)[1]


def _header_list(response: httpcore.Response) -> list[tuple[str, str]]:
    return [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in response.headers]


def _location(headers: list[tuple[str, str]]) -> str | None:
    return next((value for name, value in headers if name == "location"), None)


def _record_head(result: FetchResult, response: httpcore.Response, hop_started: float) -> None:
    """The status line and headers of a hop's answer, and its time to first byte."""
    result.ttfb_ms = _ms(time.monotonic() - hop_started)
    result.status = response.status
    version = response.extensions.get("http_version", b"HTTP/1.1")
    result.http_version = version.decode("ascii") if isinstance(version, bytes) else None
    result.headers = _header_list(response)


class _Clock:
    """Fetch duration without the time spent queueing for a per-host slot."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.waited = 0.0

    def active(self) -> float:
        return max(0.0, time.monotonic() - self.started - self.waited)
