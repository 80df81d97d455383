"""Prefixed, sortable identifiers (``scan_…``, ``wh_…``, ``key_…``, ``evt_…``).

A ULID-style body: 10 characters of millisecond time then 16 random characters, in Crockford
base32, so ids sort by creation time as strings (newest-first listings need no extra index).
"""

from __future__ import annotations

import hashlib
import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
# Every pair of characters, indexed by the 10 bits it encodes: ``_encode`` takes two digits a step.
_PAIRS = tuple(high + low for high in _ALPHABET for low in _ALPHABET)


def _encode(value: int, length: int) -> str:
    """The low ``5 * length`` bits of ``value`` as ``length`` base32 digits, most significant first
    (``length`` is even: the id parts are 10 and 16 digits)."""
    pairs = []
    for _ in range(length // 2):
        value, rem = divmod(value, 1024)
        pairs.append(_PAIRS[rem])
    return "".join(reversed(pairs))


def new_id(prefix: str, now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{prefix}_{_encode(ms, 10)}{_encode(secrets.randbits(80), 16)}"


def is_id(value: str, prefix: str) -> bool:
    head, _, body = value.partition("_")
    return head == prefix and len(body) == 26 and all(c in _ALPHABET for c in body)


def derived_id(prefix: str, source_id: str, purpose: str) -> str:
    """A stable id for something that exactly one ``source_id`` produces once per ``purpose`` (e.g.
    a scan's terminal event): the same inputs give the same id, so a retried step reuses it. It
    keeps the source's time part, so it sorts like the source."""
    body = source_id.partition("_")[2]
    digest = int.from_bytes(hashlib.sha256(f"{purpose}\0{source_id}".encode()).digest()[:10], "big")
    return f"{prefix}_{body[:10]}{_encode(digest, 16)}"
