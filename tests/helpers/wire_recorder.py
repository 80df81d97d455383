"""What a client looks like on the wire, recorded on loopback: a TLS + HTTP/2 server that keeps
every ClientHello (and computes its JA4, FoxIO's spec: docs/scanner-wire.md), the HTTP/2 preface
frames (SETTINGS, WINDOW_UPDATE, PRIORITY, pseudo-header order) and the request header order.

Test tool only (tests and the profile refresh procedure); nothing here ships in the layer.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import hpack
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
PAGE = b"<!doctype html><html><head><title>Wire recorder</title></head><body><p>recorded</p></body></html>"


# --- ClientHello and JA4 ---------------------------------------------------------------------------


def _is_grease(value: int) -> bool:
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


@dataclass
class ClientHello:
    legacy_version: int
    ciphers: list[int]
    extensions: list[int]  # in the order sent, GREASE included
    supported_versions: list[int] = field(default_factory=list)
    signature_algorithms: list[int] = field(default_factory=list)
    alpn: list[str] = field(default_factory=list)
    server_name: str | None = None


def parse_client_hello(record: bytes) -> ClientHello:
    """Parse a TLS record holding a ClientHello (RFC 8446 section 4.1.2)."""
    if len(record) < 9 or record[0] != 0x16 or record[5] != 0x01:
        raise ValueError("not a TLS handshake record with a ClientHello")
    body = record[9 : 9 + int.from_bytes(record[6:9], "big")]
    pos = 2 + 32  # legacy_version, random
    legacy_version = int.from_bytes(body[0:2], "big")
    pos += 1 + body[pos]  # session id
    cipher_len = int.from_bytes(body[pos : pos + 2], "big")
    ciphers = [int.from_bytes(body[i : i + 2], "big") for i in range(pos + 2, pos + 2 + cipher_len, 2)]
    pos += 2 + cipher_len
    pos += 1 + body[pos]  # compression methods
    hello = ClientHello(legacy_version=legacy_version, ciphers=ciphers, extensions=[])
    if pos >= len(body):
        return hello
    end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
    pos += 2
    while pos + 4 <= end:
        ext_type = int.from_bytes(body[pos : pos + 2], "big")
        ext_len = int.from_bytes(body[pos + 2 : pos + 4], "big")
        data = body[pos + 4 : pos + 4 + ext_len]
        pos += 4 + ext_len
        hello.extensions.append(ext_type)
        if ext_type == 0x0000 and len(data) > 5:  # server_name: list, type, name
            hello.server_name = data[5 : 5 + int.from_bytes(data[3:5], "big")].decode("ascii", "replace")
        elif ext_type == 0x0010 and len(data) > 2:  # ALPN protocol name list
            names, i = [], 2
            while i < len(data):
                names.append(data[i + 1 : i + 1 + data[i]].decode("ascii", "replace"))
                i += 1 + data[i]
            hello.alpn = names
        elif ext_type == 0x000D and len(data) > 2:  # signature_algorithms
            hello.signature_algorithms = [
                int.from_bytes(data[i : i + 2], "big") for i in range(2, len(data), 2)
            ]
        elif ext_type == 0x002B and data:  # supported_versions (client: 1-byte length)
            hello.supported_versions = [
                int.from_bytes(data[i : i + 2], "big") for i in range(1, 1 + data[0], 2)
            ]
    return hello


_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12] if text else "000000000000"


def ja4_parts(hello: ClientHello) -> tuple[str, str, str]:
    """JA4's three parts before hashing: (a, sorted ciphers, sorted extensions_sigalgs)."""
    ciphers = [c for c in hello.ciphers if not _is_grease(c)]
    extensions = [e for e in hello.extensions if not _is_grease(e)]
    versions = [v for v in hello.supported_versions if not _is_grease(v)]
    version = _VERSIONS.get(max(versions) if versions else hello.legacy_version, "00")
    sni = "d" if hello.server_name and not _is_ip(hello.server_name) else "i"
    alpn = "00"
    if hello.alpn and hello.alpn[0]:
        first = hello.alpn[0]
        alpn = first[0] + first[-1]
        if not (first[0].isalnum() and first[-1].isalnum()):
            raw = first.encode("latin-1").hex()
            alpn = raw[0] + raw[-1]
    a = f"t{version}{sni}{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}{alpn}"
    cipher_text = ",".join(f"{c:04x}" for c in sorted(ciphers))
    ext_text = ",".join(f"{e:04x}" for e in sorted(e for e in extensions if e not in (0x0000, 0x0010)))
    sig_text = ",".join(f"{s:04x}" for s in hello.signature_algorithms if not _is_grease(s))
    return a, cipher_text, f"{ext_text}_{sig_text}" if sig_text else ext_text


def ja4_from_raw(a: str, cipher_text: str, ext_sig_text: str) -> str:
    return f"{a}_{_sha12(cipher_text)}_{_sha12(ext_sig_text)}"


def ja4(hello: ClientHello) -> str:
    return ja4_from_raw(*ja4_parts(hello))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# --- a test CA ---------------------------------------------------------------------------------------


@dataclass
class TestCA:
    """A CA and one server certificate for ``names`` (DNS names and IP addresses)."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def create(cls, names: list[str]) -> TestCA:
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "BotScope test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        alt: list[x509.GeneralName] = [
            x509.IPAddress(ipaddress.ip_address(n)) if _is_ip(n) else x509.DNSName(n) for n in names
        ]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return cls(
            ca_pem=ca.public_bytes(serialization.Encoding.PEM),
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )

    def write(self, directory: Path) -> tuple[Path, Path, Path]:
        paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
        for path, content in zip(paths, (self.ca_pem, self.cert_pem, self.key_pem), strict=True):
            path.write_bytes(content)
        return paths


# --- the recorder ------------------------------------------------------------------------------------


@dataclass
class Http2Preface:
    settings: list[tuple[int, int]] = field(default_factory=list)
    window_update: int = 0
    priority_frames: int = 0
    pseudo_header_order: list[str] = field(default_factory=list)
    header_names: list[str] = field(default_factory=list)

    @property
    def akamai(self) -> str:
        """The Akamai HTTP/2 fingerprint: SETTINGS|WINDOW_UPDATE|PRIORITY|pseudo-header order."""
        settings = ";".join(f"{k}:{v}" for k, v in self.settings)
        pseudo = ",".join(name[1] for name in self.pseudo_header_order)
        return f"{settings}|{self.window_update}|{self.priority_frames}|{pseudo}"


@dataclass
class Visit:
    hello: ClientHello
    ja4: str
    alpn: str | None  # what the server selected
    http2: Http2Preface | None = None
    http1_header_names: list[str] = field(default_factory=list)
    path: str | None = None


class WireRecorder:
    """HTTPS on 127.0.0.1 (port 0) with ALPN h2 and http/1.1, recording each connection."""

    def __init__(self, tls_dir: Path, names: list[str] | None = None) -> None:
        self.ca = TestCA.create(names or ["wire.test", "127.0.0.1"])
        self.ca_file, cert_file, key_file = self.ca.write(tls_dir)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert_file, key_file)
        self._context.set_alpn_protocols(["h2", "http/1.1"])
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.visits: list[Visit] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    def __enter__(self) -> WireRecorder:
        self._acceptor.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._sock.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    @staticmethod
    def _peek_hello(conn: socket.socket) -> bytes:
        data = b""
        for _ in range(200):
            data = conn.recv(65536, socket.MSG_PEEK)
            if len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big"):
                return data[: 5 + int.from_bytes(data[3:5], "big")]
            threading.Event().wait(0.01)
        raise ValueError("incomplete ClientHello")

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            record = self._peek_hello(conn)  # left in the socket: the TLS handshake reads it
            hello = parse_client_hello(record)
            visit = Visit(hello=hello, ja4=ja4(hello), alpn=None)
            self.visits.append(visit)
            tls = self._context.wrap_socket(conn, server_side=True)
            visit.alpn = tls.selected_alpn_protocol()
            if visit.alpn == "h2":
                self._serve_h2(tls, visit)
            else:
                self._serve_h1(tls, visit)
        except (OSError, ValueError, ssl.SSLError):
            pass
        finally:
            conn.close()

    @staticmethod
    def _serve_h1(tls: ssl.SSLSocket, visit: Visit) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = tls.recv(65536)
            if not chunk:
                return
            data += chunk
        lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        visit.path = lines[0].split(" ")[1]
        visit.http1_header_names = [line.split(":", 1)[0] for line in lines[1:] if ":" in line]
        tls.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: "
            + str(len(PAGE)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + PAGE
        )

    @staticmethod
    def _serve_h2(tls: ssl.SSLSocket, visit: Visit) -> None:
        preface = Http2Preface()
        visit.http2 = preface
        connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        connection.initiate_connection()
        tls.sendall(connection.data_to_send())
        raw = b""
        seen_headers = False
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                return
            if not seen_headers:  # record the client's first frames as sent, before h2 reads them
                raw += chunk
                seen_headers = _record_preface(raw, preface)
            for event in connection.receive_data(chunk):
                if isinstance(event, h2.events.RequestReceived):
                    headers = dict(
                        (k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes) else v)
                        for k, v in event.headers
                    )
                    visit.path = headers.get(":path")
                    connection.send_headers(
                        event.stream_id,
                        [
                            (":status", "200"),
                            ("content-type", "text/html; charset=utf-8"),
                            ("content-length", str(len(PAGE))),
                        ],
                    )
                    connection.send_data(event.stream_id, PAGE, end_stream=True)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    tls.sendall(connection.data_to_send())
                    return
            tls.sendall(connection.data_to_send())


def _record_preface(raw: bytes, preface: Http2Preface) -> bool:
    """Parse the connection preface and frames up to the first HEADERS; True once it is in."""
    if not raw.startswith(H2_PREFACE):
        return False
    frames, offset = raw[len(H2_PREFACE) :], 0
    settings: list[tuple[int, int]] = []
    window_update = priority_frames = 0
    while offset + 9 <= len(frames):
        length = int.from_bytes(frames[offset : offset + 3], "big")
        kind, flags = frames[offset + 3], frames[offset + 4]
        stream = int.from_bytes(frames[offset + 5 : offset + 9], "big") & 0x7FFFFFFF
        payload = frames[offset + 9 : offset + 9 + length]
        if len(payload) < length:
            return False
        offset += 9 + length
        if kind == 0x4 and not flags & 0x1:  # SETTINGS (not the ACK)
            settings += [
                (int.from_bytes(payload[i : i + 2], "big"), int.from_bytes(payload[i + 2 : i + 6], "big"))
                for i in range(0, len(payload), 6)
            ]
        elif kind == 0x8 and stream == 0:  # connection WINDOW_UPDATE
            window_update = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
        elif kind == 0x2:  # PRIORITY
            priority_frames += 1
        elif kind == 0x1:  # HEADERS
            block = payload
            if flags & 0x8:  # PADDED
                block = block[1 : len(block) - block[0]]
            if flags & 0x20:  # PRIORITY fields
                block = block[5:]
            names = [
                name.decode() if isinstance(name, bytes) else str(name)
                for name, _ in hpack.Decoder().decode(block)
            ]
            preface.settings, preface.window_update, preface.priority_frames = (
                settings,
                window_update,
                priority_frames,
            )
            preface.pseudo_header_order = [n for n in names if n.startswith(":")]
            preface.header_names = [n for n in names if not n.startswith(":")]
            return True
    return False


# --- a target's own default headers --------------------------------------------------------------------


def default_headers_of(target: str) -> list[tuple[str, str]]:
    """The request headers curl_cffi's ``target`` sends by default, in order (recorded over
    HTTP/1.1 on loopback; Host, Connection and hop-by-hop headers left out)."""
    import http.server

    from curl_cffi import requests as curl_requests

    seen: list[list[tuple[str, str]]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append(list(self.headers.items()))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        curl_requests.get(
            f"http://127.0.0.1:{server.server_address[1]}/",
            impersonate=target,  # type: ignore[arg-type]
            http_version="v1",
            proxies={},
            timeout=10,
        )
    finally:
        server.shutdown()
        server.server_close()
    skip = {"host", "connection", "upgrade", "http2-settings"}
    return [(name, value) for name, value in seen[0] if name.lower() not in skip]


def iter_visits(recorder: WireRecorder, ja4_value: str) -> Iterator[Visit]:
    return (visit for visit in recorder.visits if visit.ja4 == ja4_value)
