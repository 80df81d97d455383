"""Web Bot Auth, checked by an independent library (http-message-signatures, PyPI): BotScope's key
directory (served by the API) validates — media type, kid = RFC 7638 thumbprint, its own
signature — and the signed_agent profile's requests verify, on a loopback site, against the keys
that directory publishes, while the unsigned profiles are told apart."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from botscope.config import reset_settings
from botscope.scanner.fetch import Fetcher
from botscope.scanner.probe.web_bot_auth import (
    DIRECTORY_MEDIA_TYPE,
    DIRECTORY_PATH,
    WebBotAuthSigner,
    generate_seed,
    load_signing_key,
)
from botscope.scanner.targets import NetworkPolicy
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.structures import CaseInsensitiveDict

LOCAL = NetworkPolicy.from_cidrs(["127.0.0.0/8"])
AGENT = "https://botscope.test"

# RFC 8037 appendix A: an Ed25519 key, its public JWK and (A.3) its RFC 7638 thumbprint.
RFC8037_SEED = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class JwksResolver(HTTPSignatureKeyResolver):
    """Keys by kid from a published JWKS, as a site verifying agents would hold them."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.keys = {
            k["kid"]: Ed25519PublicKey.from_public_bytes(_b64url_decode(k["x"]))
            for k in jwks["keys"]
            if k.get("kty") == "OKP" and k.get("crv") == "Ed25519"
        }

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        return self.keys.get(key_id)


def thumbprint(jwk: dict[str, str]) -> str:
    canonical = json.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def test_key_id_is_the_rfc_7638_thumbprint_of_the_rfc_8037_example_key():
    signer = WebBotAuthSigner(key=load_signing_key(RFC8037_SEED), signature_agent=AGENT)
    assert signer.public_jwk == {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}
    assert signer.keyid == RFC8037_THUMBPRINT
    assert RFC8037_SEED not in repr(signer)


@pytest.fixture
def seed(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    value = generate_seed()
    monkeypatch.setenv("BOTSCOPE_WEB_BOT_AUTH_KEY", value)
    monkeypatch.setenv("BOTSCOPE_WEB_BOT_AUTH_AGENT", AGENT)
    reset_settings()
    yield value
    reset_settings()


def fetch_directory() -> Any:
    from botscope.api.app import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app(), base_url=AGENT) as client:
        return client.get(DIRECTORY_PATH)


def test_the_api_serves_a_signed_key_directory(seed: str):
    response = fetch_directory()
    assert response.status_code == 200
    assert response.headers["content-type"] == DIRECTORY_MEDIA_TYPE
    jwks = response.json()
    (key,) = jwks["keys"]
    assert key["kid"] == thumbprint(key) and key["kty"] == "OKP" and key["crv"] == "Ed25519"
    assert "d" not in key and seed not in response.text
    message = SimpleNamespace(
        method="GET",
        url=f"{AGENT}{DIRECTORY_PATH}",
        headers=CaseInsensitiveDict(
            {
                "signature-input": response.headers["signature-input"],
                "signature": response.headers["signature"],
            }
        ),
    )
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=JwksResolver(jwks))
    (result,) = verifier.verify(
        message, expect_tag="http-message-signatures-directory", require_components=("@authority",)
    )
    assert (
        result.parameters["keyid"] == key["kid"]
        and result.parameters["expires"] > result.parameters["created"]
    )


def test_no_key_no_directory(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("BOTSCOPE_WEB_BOT_AUTH_KEY", raising=False)
    reset_settings()
    try:
        assert fetch_directory().status_code == 404
    finally:
        reset_settings()


class VerifyingSite:
    """A loopback site that serves verified agents and answers 401 to everyone else, verifying
    with http-message-signatures against the keys a directory published."""

    def __init__(self, jwks: dict[str, Any], serve_browsers: bool = False) -> None:
        verifier = HTTPMessageVerifier(
            signature_algorithm=algorithms.ED25519, key_resolver=JwksResolver(jwks)
        )
        self.seen: list[dict[str, Any]] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                headers = CaseInsensitiveDict(dict(self.headers.items()))
                message = SimpleNamespace(
                    method="GET", url=f"http://{self.headers['host']}{self.path}", headers=headers
                )
                record: dict[str, Any] = {
                    "user_agent": self.headers.get("user-agent", ""),
                    "keyid": None,
                    "signature_agent": self.headers.get("signature-agent"),
                }
                try:
                    (result,) = verifier.verify(
                        message,
                        expect_tag="web-bot-auth",
                        require_components=("@authority", "signature-agent"),
                    )
                    record["keyid"] = result.parameters["keyid"]
                    status, body = (
                        200,
                        b"<html><head><title>Welcome, agent</title></head><body>ok</body></html>",
                    )
                except InvalidSignature:
                    user_agent = record["user_agent"]
                    if serve_browsers and "Chrome/" in user_agent and "BotScope" not in user_agent:
                        status, body = (
                            200,
                            b"<html><head><title>Welcome, agent</title></head><body>ok</body></html>",
                        )
                    else:
                        status, body = (
                            401,
                            b"<html><head><title>Unverified</title></head><body>no</body></html>",
                        )
                site.seen.append(record)
                self.send_response(status)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> VerifyingSite:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_signed_agent_requests_verify_against_the_published_directory(seed: str):
    jwks = fetch_directory().json()
    signer = WebBotAuthSigner.from_setting(seed, AGENT)
    with VerifyingSite(jwks) as site:

        async def run() -> list[Any]:
            async with Fetcher(LOCAL, resolver=lambda host: ["127.0.0.1"], signer=signer) as fetcher:
                url = f"http://agent-site.test:{site.port}/"
                return [
                    await fetcher.fetch(url, profile)
                    for profile in ("signed_agent", "ai_agent", "signed_agent")
                ]

        signed, unsigned, again = asyncio.run(run())
    assert (signed.status, unsigned.status, again.status) == (200, 401, 200)
    assert [r["keyid"] for r in site.seen] == [jwks["keys"][0]["kid"], None, jwks["keys"][0]["kid"]]
    assert site.seen[0]["signature_agent"] == f'"{AGENT}"' and site.seen[1]["signature_agent"] is None
    assert "BotScopeAudit" in site.seen[0]["user_agent"]


def test_a_tampered_authority_does_not_verify(seed: str):
    jwks = fetch_directory().json()
    signer = WebBotAuthSigner.from_setting(seed, AGENT)
    headers = CaseInsensitiveDict(dict(signer.request_headers("other.test")))
    message = SimpleNamespace(method="GET", url="http://agent-site.test/", headers=headers)
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=JwksResolver(jwks))
    with pytest.raises(InvalidSignature):
        verifier.verify(message, expect_tag="web-bot-auth")


def test_without_a_key_the_signed_agent_is_not_sent():
    async def run() -> Any:
        async with Fetcher(LOCAL) as fetcher:
            return await fetcher.fetch("http://127.0.0.1:9/", "signed_agent")

    result = asyncio.run(run())
    assert result.error is not None and result.error.code == "signing_unavailable"


def test_the_route_and_the_signer_agree_on_the_directory_path():
    from botscope.api.routes import well_known

    assert well_known.DIRECTORY_PATH == DIRECTORY_PATH


def test_a_signing_scan_says_how_a_verified_agent_is_treated(seed: str):
    """A site that serves browsers and verified agents but refuses unverified agent tokens: the
    scan's signed_agent verdict differs from ai_agent's on the same path."""
    from botscope.scanner.engine import run_scan

    signer = WebBotAuthSigner.from_setting(seed, AGENT)
    with VerifyingSite(fetch_directory().json(), serve_browsers=True) as site:
        report = asyncio.run(
            run_scan(
                f"http://agent-site.test:{site.port}/",
                "quick",
                LOCAL,
                resolver=lambda host: ["127.0.0.1"],
                signer=signer,
            )
        )
    runs = {(r["path"], r["profile"]): r for r in report["path_runs"]}
    assert runs[("/", "signed_agent")]["http_status"] == 200 and runs[("/", "ai_agent")]["http_status"] == 401
    verdicts = {e["agent_profile"]: e for e in report["enforcement"] if e["path"] == "/"}
    assert verdicts["signed_agent"]["observed"] == "served" and verdicts["ai_agent"]["observed"] != "served"
    assert verdicts["signed_agent"]["verdict"] != verdicts["ai_agent"]["verdict"]
    assert verdicts["signed_agent"]["basis"].startswith("verified agent")
    assert "unverified declared token" in verdicts["ai_agent"]["basis"]


def test_a_scan_without_a_signer_plans_no_signed_agent_run(seed: str):
    from botscope.scanner.engine import run_scan

    with VerifyingSite(fetch_directory().json(), serve_browsers=True) as site:
        report = asyncio.run(
            run_scan(
                f"http://agent-site.test:{site.port}/", "quick", LOCAL, resolver=lambda host: ["127.0.0.1"]
            )
        )
    assert {r["profile"] for r in report["path_runs"]} == {"browser", "ai_crawler", "ai_agent", "http_client"}


def test_scans_sign_only_when_opted_in(seed: str, monkeypatch: pytest.MonkeyPatch):
    from botscope.agent_identity import configured_signer, scan_signer

    assert configured_signer() is not None and scan_signer() is None
    monkeypatch.setenv("BOTSCOPE_WEB_BOT_AUTH_SIGN_SCANS", "true")
    reset_settings()
    signer = scan_signer()
    assert signer is not None and signer.signature_agent == AGENT
    monkeypatch.setenv("BOTSCOPE_WEB_BOT_AUTH_KEY", "")
    reset_settings()
    assert scan_signer() is None
