"""Web Bot Auth: HTTP Message Signatures (RFC 9421) over BotScope's requests, and BotScope's key
directory (docs/web-bot-auth.md).

A signed request carries

    Signature-Agent: "https://botscope.example"            (where the key directory is)
    Signature-Input: sig1=("@authority" "signature-agent");created=…;expires=…;keyid="<thumbprint>";
                     alg="ed25519";nonce="…";tag="web-bot-auth"
    Signature: sig1=:<Ed25519 signature of the RFC 9421 signature base>:

``keyid`` is the key's JWK thumbprint (RFC 7638). The directory served at
``/.well-known/http-message-signatures-directory`` is a JWKS of the public key with media type
``application/http-message-signatures-directory+json``, itself signed over ``@authority`` with
``tag="http-message-signatures-directory"``.

The private key is a setting (``BOTSCOPE_WEB_BOT_AUTH_KEY``, PEM or base64 of the 32-byte
Ed25519 seed) handed in as a value; this module never logs it and never reads the environment.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from botscope.scanner.vocabulary import WEB_BOT_AUTH_DIRECTORY

DIRECTORY_PATH = WEB_BOT_AUTH_DIRECTORY.path
DIRECTORY_MEDIA_TYPE = "application/http-message-signatures-directory+json"
REQUEST_TAG = "web-bot-auth"
DIRECTORY_TAG = "http-message-signatures-directory"
SIGNATURE_LIFETIME_SECONDS = 60  # a request signature is valid this long
DIRECTORY_LIFETIME_SECONDS = 3600  # the directory's own signature


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_signing_key(value: str) -> Ed25519PrivateKey:
    """A PEM (PKCS#8) Ed25519 private key, or base64 / base64url of its 32-byte seed."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the Web Bot Auth key must be an Ed25519 key")
        return key
    padded = text + "=" * (-len(text) % 4)
    seed = base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
    if len(seed) != 32:
        raise ValueError("the Web Bot Auth key must be an Ed25519 seed of 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def generate_seed() -> str:
    """A new key as base64url of its seed (the local stack's development key)."""
    key = Ed25519PrivateKey.generate()
    return _b64url(
        key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
    )


def _sf_string(value: str) -> str:
    if any(ord(c) < 0x20 or ord(c) > 0x7E for c in value):
        raise ValueError("not representable as a structured-field string")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class WebBotAuthSigner:
    """Signs requests and the key directory with one Ed25519 key."""

    key: Ed25519PrivateKey
    signature_agent: str  # the https origin serving the key directory

    @classmethod
    def from_setting(cls, value: str, signature_agent: str) -> WebBotAuthSigner:
        return cls(key=load_signing_key(value), signature_agent=signature_agent.rstrip("/"))

    def __repr__(self) -> str:  # never show key material
        return f"WebBotAuthSigner(keyid={self.keyid!r}, signature_agent={self.signature_agent!r})"

    @property
    def public_jwk(self) -> dict[str, str]:
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}

    @property
    def keyid(self) -> str:
        """RFC 7638 thumbprint: SHA-256 of the required members, sorted, no whitespace."""
        jwk = self.public_jwk
        canonical = json.dumps(
            {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"), sort_keys=True
        )
        return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())

    def _sign(
        self, components: list[tuple[str, str]], *, tag: str, created: int, expires: int, nonce: str | None
    ) -> tuple[str, str]:
        """(Signature-Input value, Signature value) for ``components`` (name, value) pairs."""
        names = " ".join(_sf_string(name) for name, _ in components)
        params = f"({names});created={created};expires={expires};keyid={_sf_string(self.keyid)}"
        params += ';alg="ed25519"'
        if nonce is not None:
            params += f";nonce={_sf_string(nonce)}"
        params += f";tag={_sf_string(tag)}"
        base = "".join(f"{_sf_string(name)}: {value}\n" for name, value in components)
        base += f'"@signature-params": {params}'
        signature = base64.b64encode(self.key.sign(base.encode("ascii"))).decode("ascii")
        return f"sig1={params}", f"sig1=:{signature}:"

    def request_headers(
        self, authority: str, *, now: float | None = None, nonce: str | None = None
    ) -> list[tuple[str, str]]:
        """The three headers of a signed request to ``authority`` (host[:port], lower case)."""
        created = int(time.time() if now is None else now)
        agent = _sf_string(self.signature_agent)
        signature_input, signature = self._sign(
            [("@authority", authority.lower()), ("signature-agent", agent)],
            tag=REQUEST_TAG,
            created=created,
            expires=created + SIGNATURE_LIFETIME_SECONDS,
            nonce=nonce if nonce is not None else _b64url(secrets.token_bytes(32)),
        )
        return [("Signature-Agent", agent), ("Signature-Input", signature_input), ("Signature", signature)]

    def directory(self, authority: str, *, now: float | None = None) -> tuple[bytes, list[tuple[str, str]]]:
        """The key directory's body and response headers, signed for ``authority``."""
        created = int(time.time() if now is None else now)
        body = json.dumps(
            {"keys": [{**self.public_jwk, "kid": self.keyid, "use": "sig", "alg": "EdDSA"}]},
            separators=(",", ":"),
        ).encode("ascii")
        signature_input, signature = self._sign(
            [("@authority", authority.lower())],
            tag=DIRECTORY_TAG,
            created=created,
            expires=created + DIRECTORY_LIFETIME_SECONDS,
            nonce=_b64url(secrets.token_bytes(32)),
        )
        headers = [
            ("Content-Type", DIRECTORY_MEDIA_TYPE),
            ("Cache-Control", "max-age=3600"),
            ("Signature-Input", signature_input),
            ("Signature", signature),
        ]
        return body, headers
