"""Time as the service writes and reads it: timezone-aware UTC, ISO 8601 strings ending in ``Z``
with millisecond precision (they sort as strings, which the table's indexes rely on). Pure: the
scanner uses it too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime, timespec: Literal["seconds", "milliseconds"] = "milliseconds") -> str:
    """``2026-12-03T14:57:03.123Z`` (or without the fraction with ``timespec="seconds"``)."""
    return dt.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def now_iso(timespec: Literal["seconds", "milliseconds"] = "milliseconds") -> str:
    return iso(utcnow(), timespec)


def parse_iso(value: str) -> datetime:
    """The inverse of ``iso`` (also accepts ``+00:00`` offsets)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
