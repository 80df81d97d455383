"""Secret token formats: ``<prefix>_`` + 30 base62 characters of entropy + a 6-character checksum.

The checksum (CRC32 of the body, base62) makes a leaked key recognisable by pattern for secret
scanners and lets us reject a mistyped or malformed key without a table read. Only the SHA-256 of
a token is stored; the full token is shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from dataclasses import dataclass

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ENTROPY_CHARS = 30  # ~178 bits
CHECKSUM_CHARS = 6
KNOWN_PREFIXES = ("dxk", "mcp", "bss", "shr")  # API key, MCP token, browser session, report share link


def _base62(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, rem = divmod(value, 62)
        out.append(BASE62[rem])
    return "".join(reversed(out))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_CHARS)


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once
    token_hash: str  # stored
    prefix: str  # e.g. "dxk_AbC1" (a hint, safe to show)
    last4: str


def issue(prefix: str) -> IssuedToken:
    if prefix not in KNOWN_PREFIXES:
        raise ValueError(f"unknown token prefix {prefix!r}")
    body = "".join(secrets.choice(BASE62) for _ in range(ENTROPY_CHARS))
    token = f"{prefix}_{body}{_checksum(body)}"
    return IssuedToken(
        token=token, token_hash=hash_token(token), prefix=token[: len(prefix) + 5], last4=token[-4:]
    )


def is_well_formed(token: str, prefix: str) -> bool:
    """Shape and checksum only: no I/O. Constant-time compare of the checksum."""
    head = f"{prefix}_"
    if not token.startswith(head) or len(token) != len(head) + ENTROPY_CHARS + CHECKSUM_CHARS:
        return False
    rest = token[len(head) :]
    if any(c not in BASE62 for c in rest):
        return False
    body, check = rest[:ENTROPY_CHARS], rest[ENTROPY_CHARS:]
    return hmac.compare_digest(_checksum(body), check)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
