"""Standard Webhooks signatures (https://www.standardwebhooks.com, spec v1).

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``, HMAC-SHA256 keyed by the
base64-decoded secret (without its ``whsec_`` prefix), sent as ``v1,<base64>``. We sign exactly
the bytes we send. Written here (a dozen lines) rather than importing the ``standardwebhooks``
package at runtime; the tests verify every delivery with that official package instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _random

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 32  # the spec allows 24-64 random bytes


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    if not 24 <= len(key) <= 64:
        raise ValueError("a webhook secret carries 24 to 64 bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    if "." in msg_id:
        raise ValueError("the message id must not contain '.'")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str | list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers. Several secrets (the overlap after a rotation, newest
    first) give several signatures, space-separated, so a receiver holding either secret verifies."""
    keys = [secret] if isinstance(secret, str) else list(dict.fromkeys(secret))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(key, msg_id, timestamp, body) for key in keys),
    }


def verify(secret: str, msg_id: str, timestamp: int, body: bytes, signature_header: str) -> bool:
    """Constant-time check of any ``v1`` signature in the header (used by our own tests/tools)."""
    expected = sign(secret, msg_id, timestamp, body)
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in signature_header.split(" ")
        if candidate.startswith("v1,")
    )
