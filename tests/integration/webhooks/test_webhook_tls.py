"""HTTPS delivery to the checked address: TLS SNI and the certificate check use the endpoint's
host name while the connection goes to the address the guard approved (no second DNS lookup)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botscope.config import reset_settings
from botscope.service import webhooks as service
from botscope.webhooks import fanout, urls
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks.webhooks import Webhook

from tests.integration.webhooks.support import drain


def _certificate(tmp_path, name):
    """A CA and a server certificate for ``name``; returns (ca_pem_path, cert_path, key_path)."""
    now = dt.datetime.now(dt.UTC)

    def make(subject, issuer, key, signer, ca, san=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "BotScope test CA")])
    ca = make(ca_name, ca_name, ca_key, ca_key, True)
    server = make(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), ca_name, server_key, ca_key, False, name
    )
    paths = {n: tmp_path / f"{n}.pem" for n in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@contextmanager
def tls_receiver(paths):
    seen = {"sni": [], "requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            seen["requests"].append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(paths["cert"], paths["key"])
    context.sni_callback = lambda sock, server_name, ctx: seen["sni"].append(server_name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def trust_test_ca(aws, monkeypatch, tmp_path):
    """The sender trusts the test CA the way a local stack does: ``BOTSCOPE_EXTRA_CA_BUNDLE``, on
    top of certifi's CAs, verification on."""
    paths = _certificate(tmp_path, "hooks.customer.test")
    monkeypatch.setenv("BOTSCOPE_EXTRA_CA_BUNDLE", str(paths["ca"]))
    reset_settings()
    yield paths
    monkeypatch.delenv("BOTSCOPE_EXTRA_CA_BUNDLE")
    reset_settings()


@dataclass
class Delivered:
    port: int
    endpoint: dict[str, Any]
    event_id: str
    seen: dict[str, Any]  # what the receiver saw: ``sni`` names, ``requests``
    delivery: dict[str, Any]  # the endpoint's one delivery


def _deliver_once(aws: Any, principal: Any, deliver_handler: Any, paths: Any, host: str) -> Delivered:
    """One scan.completed event to a new endpoint ``https://<host>:<port>/in`` on a TLS receiver
    serving the certificate ``paths``."""
    with tls_receiver(paths) as (port, seen):
        endpoint = service.create_webhook(
            principal, label="tls", url=f"https://{host}:{port}/in", event_types=["scan.completed"]
        )
        event_id = fanout.publish_event(principal.workspace_id, "scan.completed", {"scan_job_id": "scan_1"})
        drain(aws.webhook_queue_url, deliver_handler)
    (dlv,) = service.list_deliveries(principal, endpoint["webhook_id"])["data"]
    return Delivered(port, endpoint, event_id, seen, dlv)


def test_https_goes_to_the_checked_address_with_the_name_as_sni_and_host(
    aws, principal_factory, deliver_handler, trust_test_ca
):
    principal, _ = principal_factory()
    lookups = []
    urls.DEFAULT_RESOLVER = lambda host: lookups.append(host) or ["127.0.0.1"]
    sent = _deliver_once(aws, principal, deliver_handler, trust_test_ca, "hooks.customer.test")
    seen, dlv = sent.seen, sent.delivery

    assert seen["sni"] == ["hooks.customer.test"]
    ((headers, body),) = seen["requests"]
    assert headers["host"] == f"hooks.customer.test:{sent.port}" and headers["webhook-id"] == sent.event_id
    Webhook(sent.endpoint["secret"]).verify(body, headers)
    assert lookups == [
        "hooks.customer.test",
        "hooks.customer.test",
    ]  # creation + delivery, via the guard only
    assert dlv["status"] == "delivered"


def test_a_certificate_for_another_name_is_refused(aws, principal_factory, deliver_handler, trust_test_ca):
    principal, _ = principal_factory()
    urls.DEFAULT_RESOLVER = lambda host: ["127.0.0.1"]
    sent = _deliver_once(aws, principal, deliver_handler, trust_test_ca, "other.customer.test")
    seen, dlv = sent.seen, sent.delivery

    assert seen["requests"] == []
    assert dlv["status"] == "failed"
    assert all(
        a["error"].startswith("connection_error") and a["status_code"] is None for a in dlv["attempts"]
    )
    assert ipaddress.ip_address("127.0.0.1").compressed not in str(dlv)


def test_without_the_extra_ca_bundle_the_test_certificate_is_refused(
    aws, principal_factory, deliver_handler, tmp_path
):
    """Verification is on: a certificate for the right name from a CA nobody configured fails."""
    paths = _certificate(tmp_path, "hooks.customer.test")
    principal, _ = principal_factory()
    urls.DEFAULT_RESOLVER = lambda host: ["127.0.0.1"]
    sent = _deliver_once(aws, principal, deliver_handler, paths, "hooks.customer.test")
    seen, dlv = sent.seen, sent.delivery

    assert seen["requests"] == []
    assert dlv["status"] == "failed"
    assert all(a["error"].startswith("connection_error") for a in dlv["attempts"])
