"""The browser profile's wire client: libcurl-impersonate through curl_cffi's asyncio multi handle.

``Fetcher`` keeps every decision (guard, pins, redirects, budget, per-host slots); this module only
sends one request the way the named Chrome version does (TLS ClientHello, ALPN h2, HTTP/2
SETTINGS / window / pseudo-header order, header order) and reads the answer within the limits:

* **Pinning**: every request carries ``CURLOPT_RESOLVE`` entries for its host with the addresses
  that passed the SSRF guard, so curl never asks DNS; the URL, ``Host`` / ``:authority``, SNI and
  certificate check keep the host name. An IP-literal URL is never resolved.
* **No redirects** (``FOLLOWLOCATION`` 0), **no cookie engine** (no ``COOKIEFILE``: curl keeps
  no cookies at all), **no proxy from the environment** (``PROXY`` and ``NOPROXY`` set to "").
* **Body cap including decompression**: curl decodes (gzip, deflate, br, zstd) in chunks of at
  most 16 KiB and hands each to the write callback, which stops the transfer once the cap is
  passed, so a compression bomb never inflates past the cap plus one chunk.
* **Timeouts**: connect (``CONNECTTIMEOUT_MS``), read (no byte for ``read_timeout`` seconds:
  ``LOW_SPEED_LIMIT`` 1 byte over ``LOW_SPEED_TIME``), total (``TIMEOUT_MS``; the fetcher's own
  deadline also cancels the transfer and removes it from the multi handle).
* **Verification is never disabled**: the CA store is certifi's bundle plus an optional extra PEM
  bundle (a setting, for test CAs), or the CAs of an ``ssl.SSLContext`` handed in by tests.

Tests can route connections through an httpcore network backend (the fetcher's dialer seam): then
curl talks to a loopback CONNECT relay owned by this transport that dials through that backend,
with the same pins; TLS stays end to end between curl and the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import ssl
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import certifi
import httpcore
from curl_cffi.aio import AsyncCurl
from curl_cffi.const import CurlECode, CurlHttpVersion, CurlInfo, CurlOpt
from curl_cffi.curl import CURL_WRITEFUNC_ERROR, Curl, CurlError

from botscope.scanner.targets import IPAddress
from botscope.scanner.vocabulary import ProbeErrorCode

# libcurl's HTTP_VERSION info values → the names the report uses.
_HTTP_VERSION_NAMES = {1: "HTTP/1.0", 2: "HTTP/1.1", 3: "HTTP/2", 30: "HTTP/3"}
_TIMEOUT_CODES = frozenset({CurlECode.OPERATION_TIMEDOUT})


class CurlFailure(Exception):
    """A transfer that ended without a usable answer; ``code`` is a ``ProbeError`` code."""

    def __init__(self, code: ProbeErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class WireProfile:
    """What the transport needs to know about a curl-backed profile."""

    impersonate: str  # curl_cffi target, e.g. "chrome152"
    headers: tuple[tuple[str, str], ...]  # in the order the browser sends them
    http2: bool  # offer h2 in ALPN (used when the server picks it)


@dataclass
class CurlAnswer:
    status: int
    headers: list[tuple[str, str]]  # final response, in order, names lower-cased
    body: bytes
    body_size: int  # decoded bytes read
    body_truncated: bool
    http_version: str | None
    ttfb_seconds: float | None


@dataclass
class _Exchange:
    """Per-transfer callback state."""

    cap: int
    started: float
    wants_body: Callable[[int, list[tuple[str, str]]], bool] | None = None
    read_body: bool = True
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    read: int = 0
    truncated: bool = False
    first_byte_at: float | None = None

    def on_header(self, line: bytes) -> int:
        if self.first_byte_at is None:
            self.first_byte_at = time.monotonic()
        text = line.decode("latin-1").rstrip("\r\n")
        if text.startswith("HTTP/"):
            self.headers = []  # a new response (after 1xx): only the final one counts
            parts = text.split(" ", 2)
            self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        elif ":" in text:
            name, _, value = text.partition(":")
            self.headers.append((name.strip().lower(), value.strip()))
        return len(line)

    def on_body(self, chunk: bytes) -> int:
        if self.wants_body is not None:  # decided once, when status and headers are complete
            self.read_body = self.wants_body(self.status, self.headers)
            self.wants_body = None
        if not self.read_body:
            return CURL_WRITEFUNC_ERROR
        room = self.cap + 1 - len(self.body)
        self.read += len(chunk)
        self.body += chunk[:room]
        if len(self.body) > self.cap:
            self.truncated = True
            return CURL_WRITEFUNC_ERROR  # stop the transfer: curl decodes no further
        return len(chunk)


def _pem_of_der(der: bytes) -> str:
    return ssl.DER_cert_to_PEM_cert(der)


def _write_bundle(content: bytes) -> str:
    """A CA bundle file for curl (curl_cffi takes CA files, not in-memory blobs)."""
    handle, path = tempfile.mkstemp(prefix="botscope-ca-", suffix=".pem")
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    return path


@functools.lru_cache(maxsize=8)
def _ca_file(extra_ca_bundle: str | None) -> str:
    """certifi's bundle, plus an optional extra PEM bundle (combined once per process)."""
    if not extra_ca_bundle:
        return certifi.where()
    with open(certifi.where(), "rb") as handle:
        bundle = handle.read()
    with open(extra_ca_bundle, "rb") as handle:
        bundle += b"\n" + handle.read()
    return _write_bundle(bundle)


def _context_bundle(context: ssl.SSLContext) -> bytes:
    ders: Iterable[bytes] = context.get_ca_certs(binary_form=True)
    return "".join(_pem_of_der(der) for der in ders).encode("ascii")


def _info_int(curl: Curl, info: CurlInfo) -> int:
    value = curl.getinfo(info)
    return int(value) if isinstance(value, (int, float)) else 0


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class _ConnectRelay:
    """A loopback HTTP CONNECT endpoint that dials through an httpcore network backend (tests'
    dialer seam). It serves only this transport, and the backend it dials through refuses any
    host that was not pinned."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend, connect_timeout: float) -> None:
        self._backend = backend
        self._connect_timeout = connect_timeout
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, authority, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            host, _, port = authority.rpartition(":")
            if method != "CONNECT":
                raise ValueError("not a CONNECT")
            stream = await self._backend.connect_tcp(
                host.strip("[]"), int(port), timeout=self._connect_timeout
            )
        except Exception:  # noqa: BLE001 - any refusal is a failed tunnel for curl
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            with contextlib.suppress(Exception):
                await writer.drain()
                writer.close()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        async def upstream() -> None:
            while data := await reader.read(65536):
                await stream.write(data)

        async def downstream() -> None:
            while data := await stream.read(65536):
                writer.write(data)
                await writer.drain()

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await stream.aclose()
            with contextlib.suppress(Exception):
                writer.close()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None


def _answer(exchange: _Exchange, status: int, version: str | None, max_body_bytes: int) -> CurlAnswer:
    ttfb = None if exchange.first_byte_at is None else exchange.first_byte_at - exchange.started
    return CurlAnswer(
        status=status,
        headers=exchange.headers,
        body=bytes(exchange.body[:max_body_bytes]),
        body_size=exchange.read,
        body_truncated=exchange.truncated,
        http_version=version,
        ttfb_seconds=ttfb,
    )


class CurlTransport:
    """One multi handle (one connection cache) per profile, for one ``Fetcher``."""

    def __init__(
        self,
        *,
        extra_ca_bundle: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        dialer: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._own_ca_file: str | None = None
        if ssl_context is not None:
            self._own_ca_file = self._ca_file = _write_bundle(_context_bundle(ssl_context))
        else:
            self._ca_file = _ca_file(extra_ca_bundle)
        self._multis: dict[str, AsyncCurl] = {}
        self._relay = _ConnectRelay(dialer, 5.0) if dialer is not None else None
        self.requests_sent = 0

    async def aclose(self) -> None:
        multis, self._multis = list(self._multis.values()), {}
        for multi in multis:
            with contextlib.suppress(Exception):
                await multi.close()  # type: ignore[no-untyped-call]
        if self._relay is not None:
            await self._relay.aclose()
        if self._own_ca_file is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._own_ca_file)
            self._own_ca_file = None

    def _multi(self, pool_id: str) -> AsyncCurl:
        multi = self._multis.get(pool_id)
        if multi is None:
            multi = AsyncCurl()
            self._multis[pool_id] = multi
        return multi

    async def request(
        self,
        *,
        pool_id: str,
        url: str,
        host_header: str,
        host: str,
        port: int,
        addresses: list[IPAddress],
        profile: WireProfile,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
        max_body_bytes: int,
        read_body: Callable[[int, list[tuple[str, str]]], bool] | None = None,
    ) -> CurlAnswer:
        """GET ``url`` once. ``read_body(status, headers)`` decides, once the headers are in,
        whether the body is wanted (a redirect's is not)."""
        exchange = _Exchange(cap=max_body_bytes, started=time.monotonic(), wants_body=read_body)
        curl = Curl()
        try:
            self._configure(
                curl,
                exchange,
                url=url,
                host_header=host_header,
                host=host,
                port=port,
                addresses=addresses,
                profile=profile,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                total_timeout=total_timeout,
            )
            await self._perform(curl, exchange, pool_id)
            status = _info_int(curl, CurlInfo.RESPONSE_CODE)
            version = _HTTP_VERSION_NAMES.get(_info_int(curl, CurlInfo.HTTP_VERSION))
        finally:
            curl.close()
        if status == 0:
            raise CurlFailure("connection_failed", "the connection failed during the exchange")
        return _answer(exchange, status, version, max_body_bytes)

    async def _perform(self, curl: Curl, exchange: _Exchange, pool_id: str) -> None:
        """Run the configured handle on the profile's multi handle (through the test relay when a
        dialer is set). Stopping the transfer ourselves (body cap reached, body not wanted) is
        not a failure; any other libcurl error is ``CurlFailure``."""
        if self._relay is not None:
            await self._relay.start()
            curl.setopt(CurlOpt.PROXY, f"http://127.0.0.1:{self._relay.port}")
            curl.setopt(CurlOpt.HTTPPROXYTUNNEL, 1)
        multi = self._multi(pool_id)
        self.requests_sent += 1
        future = multi.add_handle(curl)
        try:
            await future
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                multi.remove_handle(curl)
            raise
        except CurlError as exc:
            stopped_by_us = exc.code == CurlECode.WRITE_ERROR and (
                exchange.truncated or not exchange.read_body
            )
            if not stopped_by_us:
                raise self._failure(exc) from None

    def _configure(
        self,
        curl: Curl,
        exchange: _Exchange,
        *,
        url: str,
        host_header: str,
        host: str,
        port: int,
        addresses: list[IPAddress],
        profile: WireProfile,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
    ) -> None:
        # Impersonation first: it sets TLS, HTTP/2 and header-order options that the lines
        # below must not undo; default headers off, the profile data lists every header.
        if curl.impersonate(profile.impersonate, default_headers=False) != 0:
            raise CurlFailure(
                "internal_error", f"the client profile {profile.impersonate!r} is not available"
            )
        curl.setopt(CurlOpt.URL, url.encode("ascii"))
        if addresses:
            pinned = ",".join(_host_for_url(str(address)) for address in addresses)
            curl.setopt(CurlOpt.RESOLVE, [f"{host}:{port}:{pinned}"])
        curl.setopt(CurlOpt.PROTOCOLS_STR, "http,https")
        curl.setopt(CurlOpt.FOLLOWLOCATION, 0)
        curl.setopt(CurlOpt.PROXY, "")
        curl.setopt(CurlOpt.NOPROXY, "")
        curl.setopt(CurlOpt.SSL_VERIFYPEER, 1)
        curl.setopt(CurlOpt.SSL_VERIFYHOST, 2)
        curl.setopt(CurlOpt.CAINFO, self._ca_file)
        curl.setopt(CurlOpt.HTTP_VERSION, CurlHttpVersion.V2TLS if profile.http2 else CurlHttpVersion.V1_1)
        curl.setopt(CurlOpt.CONNECTTIMEOUT_MS, max(1, int(connect_timeout * 1000)))
        curl.setopt(CurlOpt.TIMEOUT_MS, max(1, int(total_timeout * 1000)))
        curl.setopt(CurlOpt.LOW_SPEED_LIMIT, 1)
        curl.setopt(CurlOpt.LOW_SPEED_TIME, max(1, math.ceil(read_timeout)))
        curl.setopt(CurlOpt.NOSIGNAL, 1)
        names = [name for name, _ in profile.headers]
        encoding = next((value for name, value in profile.headers if name.lower() == "accept-encoding"), None)
        if encoding:
            curl.setopt(CurlOpt.ACCEPT_ENCODING, encoding.encode("latin-1"))  # curl decodes what it offers
        else:
            curl.setopt(CurlOpt.HTTP_CONTENT_DECODING, 0)
        lines = [f"Host: {host_header}".encode("ascii")]
        lines += [f"{name}: {value}".encode("latin-1") for name, value in profile.headers]
        curl.setopt(CurlOpt.HTTPHEADER, lines)
        curl.setopt(CurlOpt.HTTPHEADER_ORDER, ",".join(["host", *(n.lower() for n in names)]))
        curl.setopt(CurlOpt.HEADERFUNCTION, exchange.on_header)
        curl.setopt(CurlOpt.WRITEFUNCTION, exchange.on_body)

    @staticmethod
    def _failure(exc: CurlError) -> CurlFailure:
        if exc.code in _TIMEOUT_CODES:
            return CurlFailure("timeout", "the server did not answer in time")
        if exc.code in (
            CurlECode.COULDNT_CONNECT,
            CurlECode.COULDNT_RESOLVE_HOST,
            CurlECode.COULDNT_RESOLVE_PROXY,
        ):
            return CurlFailure("connection_failed", "could not connect to the host")
        return CurlFailure("connection_failed", "the connection failed during the exchange")
