"""Query values of a customer's target URL kept out of everything but the scan record itself.

A customer may scan ``https://shop.example/?token=…``: the scan needs the whole URL (the stored
plan the probes read, and the scan record the customer sees), but stored path runs, the audit log
and webhook payloads (which reach a receiver the customer may share with others) carry the URL
with every query value replaced: keys and structure stay, values read ``redacted``. Links a scan
discovers are redacted by the scanner (``botscope.scanner.observe``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REDACTED = "redacted"
# Keys whose string values are URLs (or paths) that may carry the customer's query.
URL_KEYS = frozenset({"target_url", "url", "path"})


def redact_query(query: str) -> str:
    """``a=1&token=x&flag`` → ``a=redacted&token=redacted&flag`` (a bare key has no value)."""
    if not query:
        return ""
    parts = []
    for item in query.split("&"):
        key, sep, value = item.partition("=")
        parts.append(f"{key}{sep}{REDACTED}" if sep and value else item)
    return "&".join(parts)


def redact_url(url: str) -> str:
    """The URL (or path) with every query value redacted and no fragment."""
    if "?" not in url:
        return url.split("#", 1)[0]
    try:
        parts = urlsplit(url)
    except ValueError:
        head, _, query = url.partition("?")
        return f"{head}?{redact_query(query.split('#', 1)[0])}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, redact_query(parts.query), ""))


def redact_urls_in(value: Any) -> Any:
    """A copy of ``value`` (dicts and lists, any depth) with the URLs under ``URL_KEYS`` redacted."""
    if isinstance(value, Mapping):
        return {
            k: (redact_url(v) if k in URL_KEYS and isinstance(v, str) else redact_urls_in(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_urls_in(v) for v in value]
    return value
