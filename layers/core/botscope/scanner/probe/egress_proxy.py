"""The rendered probe's egress guard: an in-process forward proxy every browser request leaves by.

Chromium is started with ``--proxy-server`` pointing here and ``--proxy-bypass-list=<-loopback>``
(nothing bypasses it, not even loopback), so the page, its subresources, redirects, fetch/XHR and
WebSockets (which Chromium tunnels with CONNECT) all arrive here first. For each request:

* the destination is normalized with ``targets.normalize_target`` and resolved and checked once
  with ``targets.resolve_and_check`` (the scanner's SSRF guard, the same one the HTTP fetcher
  uses), and the proxy connects to the checked address, never to the name: no second lookup, so
  DNS rebinding cannot move a request;
* the scan's private allow-list (``BOTSCOPE_ALLOW_PRIVATE_TARGETS``, passed in as a
  ``NetworkPolicy``) opens private ranges for the scanned origin's host and port only. A page on an
  allowed intranet or fixture host cannot use the browser to reach other local services;
* hard limits: a request count, a request count to the target host (the scan's request budget),
  total bytes relayed, connect and idle timeouts.

HTTPS is tunnelled, not intercepted: the proxy sees host and port, never content. Plain HTTP is
forwarded one request per connection (``Connection: close`` upstream), so a second request on the
same client connection can never ride on a connection checked for another host.

Nothing recorded here holds an address, a URL path, a header value or a body.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from botscope.errors import InvalidTarget, TargetNotPublic
from botscope.scanner.targets import (
    IPAddress,
    NetworkPolicy,
    Resolver,
    normalize_target,
    resolve_and_check,
)

MAX_HEAD_BYTES = 32 * 1024
_RELAY_CHUNK = 64 * 1024
# Chromium's own background services (component and update checks, sign-in, safe browsing,
# optimization hints), which it contacts even with background networking disabled. They are refused
# before any lookup, so the browser's housekeeping never leaves through a scan and never counts as
# the page's traffic.
BROWSER_SERVICE_HOSTS = frozenset(
    {
        "clients2.google.com",
        "clients1.google.com",
        "update.googleapis.com",
        "accounts.google.com",
        "clientservices.googleapis.com",
        "safebrowsing.googleapis.com",
        "sb-ssl.google.com",
        "optimizationguide-pa.googleapis.com",
        "content-autofill.googleapis.com",
        "redirector.gvt1.com",
        "edgedl.me.gvt1.com",
        "dl.google.com",
        "www.googleapis.com",
    }
)
_HOP_BY_HOP = {
    b"proxy-connection",
    b"proxy-authorization",
    b"connection",
    b"keep-alive",
    b"te",
    b"trailer",
    b"upgrade",
}


@dataclass(frozen=True)
class EgressLimits:
    max_requests: int = 200  # requests and tunnels per path run, all hosts
    max_target_requests: int = 40  # of those, to the scanned host (the request budget)
    max_bytes: int = 16 * 1024 * 1024  # bytes relayed to the browser per path run
    max_request_body_bytes: int = 1024 * 1024
    connect_timeout: float = 5.0
    idle_timeout: float = 20.0
    per_host_concurrency: int = 8  # open upstream connections to one host


@dataclass
class EgressStats:
    """What one path run sent through the proxy: counts and host names, no addresses."""

    requests: int = 0
    target_requests: int = 0
    refused: int = 0
    refused_reasons: dict[str, int] = field(default_factory=dict)
    browser_service: int = 0  # the browser's own background requests, refused
    bytes_in: int = 0
    limit_hit: str | None = None  # "requests", "target_requests", "bytes"

    def refuse(self, reason: str) -> None:
        self.refused += 1
        self.refused_reasons[reason] = self.refused_reasons.get(reason, 0) + 1


class _Refused(Exception):
    def __init__(self, reason: str, status: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class EgressProxy:
    """``async with EgressProxy(target_host, target_port, policy) as proxy``: listens on
    127.0.0.1 (ephemeral port); ``proxy.server`` is the ``--proxy-server`` value."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        policy: NetworkPolicy | None = None,
        *,
        resolver: Resolver | None = None,
        limits: EgressLimits | None = None,
        budget: Callable[[], bool] | None = None,
    ) -> None:
        self.target_host = target_host.lower()
        self.target_port = target_port
        self.policy = policy or NetworkPolicy()
        self.limits = limits or EgressLimits()
        self._resolver = resolver
        # Called once per request to the target host; False means the scan's budget is spent.
        self._budget = budget
        self._pins: dict[tuple[str, int], list[IPAddress]] = {}
        self._pin_locks: dict[tuple[str, int], asyncio.Lock] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = EgressStats()
        # Marks the proxy's own refusal answers (a 502 when the site does not answer, a 403 for a
        # refused address) so the browser probe never takes them for the site's: unknown to sites.
        self.answer_marker = secrets.token_hex(12)
        self.resolutions = 0

    async def __aenter__(self) -> EgressProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    @property
    def port(self) -> int:
        assert self._server is not None, "the proxy is not running"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def server(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset_stats(self) -> EgressStats:
        """Start a new path run's counters; returns the previous run's."""
        previous, self.stats = self.stats, EgressStats()
        return previous

    # --- the guard -----------------------------------------------------------------------------

    def _policy_for(self, host: str, port: int) -> NetworkPolicy:
        if host == self.target_host and port == self.target_port:
            return self.policy
        return NetworkPolicy()

    async def _checked_addresses(self, host: str, port: int) -> list[IPAddress]:
        key = (host, port)
        if key in self._pins:
            return self._pins[key]
        lock = self._pin_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._pins:
                self.resolutions += 1
                try:
                    async with asyncio.timeout(self.limits.connect_timeout):
                        self._pins[key] = await asyncio.to_thread(
                            resolve_and_check, host, port, self._policy_for(host, port), self._resolver
                        )
                except TimeoutError:
                    raise _Refused("unresolvable", 502) from None
                except TargetNotPublic:
                    raise _Refused("not_public") from None
        return self._pins[key]

    def _count(self, host: str, port: int) -> None:
        stats, limits = self.stats, self.limits
        if stats.limit_hit == "bytes" or stats.bytes_in >= limits.max_bytes:
            stats.limit_hit = "bytes"
            raise _Refused("byte_limit", 429)
        if stats.requests >= limits.max_requests:
            stats.limit_hit = "requests"
            raise _Refused("request_limit", 429)
        if host == self.target_host and port == self.target_port:
            if stats.target_requests >= limits.max_target_requests or (
                self._budget is not None and not self._budget()
            ):
                stats.limit_hit = "target_requests"
                raise _Refused("budget_exhausted", 429)
            stats.target_requests += 1
        stats.requests += 1

    async def _open(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        addresses = await self._checked_addresses(host, port)
        for address in addresses:  # next checked address when one does not answer
            try:
                async with asyncio.timeout(self.limits.connect_timeout):
                    return await asyncio.open_connection(str(address), port)
            except (OSError, TimeoutError):
                continue
        raise _Refused("connect_failed", 502)

    # --- serving -------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(self.limits.idle_timeout):
            head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD_BYTES:
            await _answer(writer, 431)
            return
        lines = head.split(b"\r\n")
        try:
            method, target, _version = lines[0].decode("latin-1").split(" ", 2)
        except ValueError:
            await _answer(writer, 400)
            return
        try:
            if method.upper() == "CONNECT":
                await self._tunnel(target, reader, writer)
            else:
                await self._forward(method, target, lines[1:], reader, writer)
        except _Refused as refused:
            if refused.reason == "browser_service":
                self.stats.browser_service += 1
            else:
                self.stats.refuse(refused.reason)
            await _answer(writer, refused.status, self.answer_marker)

    def _destination(self, url: str) -> tuple[str, int]:
        try:
            destination = normalize_target(url)
        except InvalidTarget:
            raise _Refused("invalid_target", 400) from None
        if destination.host in BROWSER_SERVICE_HOSTS and destination.host != self.target_host:
            raise _Refused("browser_service")
        return destination.host, destination.port

    async def _tunnel(
        self, authority: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # CONNECT carries host:port; read it as an https URL so every host spelling is normalized
        # exactly like a scan target (numeric IPv4 forms, IDNA, brackets).
        host, port = self._destination(f"https://{authority}/")
        self._count(host, port)
        async with self._slot(host):
            upstream_reader, upstream_writer = await self._open(host, port)
            try:
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
                await self._relay(reader, writer, upstream_reader, upstream_writer)
            finally:
                upstream_writer.close()

    async def _forward(
        self,
        method: str,
        url: str,
        header_lines: list[bytes],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        if not url.lower().startswith("http://"):
            raise _Refused("invalid_target", 400)
        host, port = self._destination(url)
        target = normalize_target(url)
        headers: list[bytes] = []
        length = 0
        for line in header_lines:
            if not line:
                continue
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"transfer-encoding":
                raise _Refused("chunked_upload", 411)  # bodies are relayed by length only
            if lowered == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise _Refused("bad_request", 400) from None
            if lowered not in _HOP_BY_HOP:
                headers.append(line)
        if length > self.limits.max_request_body_bytes:
            raise _Refused("upload_too_large", 413)
        self._count(host, port)
        request = (
            f"{method} {target.path} HTTP/1.1\r\n".encode("latin-1")
            + b"\r\n".join(headers)
            + b"\r\nConnection: close\r\n\r\n"
        )
        async with self._slot(host):
            upstream_reader, upstream_writer = await self._open(host, port)
            try:
                upstream_writer.write(request)
                if length:
                    async with asyncio.timeout(self.limits.idle_timeout):
                        upstream_writer.write(await reader.readexactly(length))
                await upstream_writer.drain()
                await self._pump(upstream_reader, writer)
            finally:
                upstream_writer.close()

    async def _relay(
        self,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        upstream_reader: asyncio.StreamReader,
        upstream_writer: asyncio.StreamWriter,
    ) -> None:
        outbound = asyncio.ensure_future(self._pump(client_reader, upstream_writer, count=False))
        inbound = asyncio.ensure_future(self._pump(upstream_reader, client_writer))
        try:
            await asyncio.wait({outbound, inbound}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (outbound, inbound):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, count: bool = True
    ) -> None:
        while True:
            async with asyncio.timeout(self.limits.idle_timeout):
                chunk = await source.read(_RELAY_CHUNK)
            if not chunk:
                return
            if count:
                self.stats.bytes_in += len(chunk)
                if self.stats.bytes_in > self.limits.max_bytes:
                    self.stats.limit_hit = "bytes"
                    return
            sink.write(chunk)
            await sink.drain()

    @contextlib.asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        semaphore = self._slots.setdefault(host, asyncio.Semaphore(self.limits.per_host_concurrency))
        async with semaphore:
            yield


EGRESS_ANSWER_HEADER = "x-botscope-egress"


async def _answer(writer: asyncio.StreamWriter, status: int, marker: str = "") -> None:
    reasons = {
        400: "Bad Request",
        403: "Forbidden",
        411: "Length Required",
        413: "Content Too Large",
        429: "Too Many Requests",
        431: "Request Header Fields Too Large",
        502: "Bad Gateway",
    }
    marker_line = f"{EGRESS_ANSWER_HEADER}: {marker}\r\n" if marker else ""
    head = f"HTTP/1.1 {status} {reasons.get(status, 'Error')}\r\nContent-Length: 0\r\n{marker_line}Connection: close\r\n\r\n"
    writer.write(head.encode("ascii"))
    with contextlib.suppress(Exception):
        await writer.drain()
