"""Numbers read from untrusted text (URLs, HTTP headers, query strings, message bodies).

``str.isdigit()`` and ``int()`` accept far more than ASCII digits: ``"²".isdigit()`` is true but
``int("²")`` raises, and ``int("１０")`` (fullwidth) or ``int("٣")`` (Arabic-Indic) succeed. A
number a peer wrote is therefore read with ``ascii_int``: ASCII digits 0-9 only, bounded length,
anything else is "not a number" (``None``), never an exception the caller did not expect. The rule
is the same everywhere (ports, ``Retry-After``, ``Content-Length``, limits, ids): see
docs/invariants.md.
"""

from __future__ import annotations

import re

_ASCII_DIGITS = re.compile(r"[0-9]+")


def ascii_int(text: str | None, *, max_digits: int = 18) -> int | None:
    """``text`` as a non-negative integer when it is 1..``max_digits`` ASCII digits, else None.

    No sign, no whitespace, no underscores (``int()`` accepts all three), no Unicode digits."""
    if text is None or not 0 < len(text) <= max_digits or not _ASCII_DIGITS.fullmatch(text):
        return None
    return int(text)
