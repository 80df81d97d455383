"""Text a scanned site controls, made safe to store and show (docs/report.md "Values from scanned
sites").

A site writes its Content-Signal keys, titles, cookie names and header values; they enter the
report as facts, so they are kept, but bounded in length and stripped of characters that can
change how other text displays or is parsed: C0/C1 control characters and DEL, Unicode bidi
overrides and isolates, zero-width characters and lone surrogates. Runs of whitespace become one
space. Markup is *not* removed (it is a fact about the site): every renderer must escape these
values for its own format (HTML, Markdown, terminal, SARIF).
"""

from __future__ import annotations

import re

ELLIPSIS = "…"
# C0 (incl. tab/newline: whitespace is collapsed separately), DEL, C1, bidi marks/embeddings/
# overrides/isolates, zero-width space/joiners, word joiner, BOM, and lone surrogates.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)
_WHITESPACE = re.compile(r"[\s\u00a0]+")

KEY_LIMIT = 64  # a Content-Signal / Content-Usage key, a cookie name
VALUE_LIMIT = 256  # a Content-Signal value
TEXT_LIMIT = 300  # a title
HEADER_LIMIT = 1024  # a kept header value
MAX_SIGNAL_KEYS = 32  # keys kept per Content-Signal / Content-Usage declaration


def site_text(value: str, limit: int = VALUE_LIMIT) -> str:
    """``value`` without unsafe characters, whitespace collapsed, at most ``limit`` characters
    (cut ones end with ``…``)."""
    cleaned = _WHITESPACE.sub(" ", _UNSAFE.sub("", value)).strip()
    if len(cleaned) > limit:
        cleaned = cleaned[: max(0, limit - 1)].rstrip() + ELLIPSIS
    return cleaned
