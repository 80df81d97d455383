"""Which paths are critical (login, signup, password reset, search, cart/checkout, account, api,
contact): the one classification used by the planner (which paths a full scan probes), the
findings (which unprotected paths raise the coverage severity) and monitoring (which
disappearances fire without confirmation). See docs/report.md "Coverage".

A category word counts only as a whole path segment or a word inside one (separated by ``/ _ . -``),
so ``/research``, ``/capital``, ``/author`` and ``/cartoons`` are not critical.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Category → path pattern, in priority order: a path is filed under the first that matches, so
# "/login/forgot-password" is a password reset, not a login.
_W = r"(?:^|[/_.\-])"
CRITICAL_CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        (
            "password_reset",
            _W
            + r"(?:forgot|reset|lost|recover)[\w\-]*(?:password|pass|pwd)?|"
            + _W
            + r"password[\w\-]*(?:reset|forgot|new|recover)",
        ),
        (
            "signup",
            _W + r"(?:sign[\-_]?up|register|registration|join|create[\-_]?account|enroll)(?:$|[/_.\-?])",
        ),
        ("login", _W + r"(?:log[\-_]?in|sign[\-_]?in|log[\-_]?on|auth(?:enticate)?|sso)(?:$|[/_.\-?])"),
        ("search", _W + r"(?:search|find)(?:$|[/_.\-?])"),
        ("cart", _W + r"(?:cart|basket|checkout|bag)(?:$|[/_.\-?])"),
        ("account", _W + r"(?:my[\-_]?account|account|profile|me)(?:$|[/_.\-?])|/my[\-_][a-z]"),
        ("api", _W + r"(?:api|graphql)(?:$|[/_.\-?])"),
        ("contact", _W + r"(?:contact|contact[\-_]?us|support|feedback)(?:$|[/_.\-?])"),
    )
)
# The category whose pages a CAPTCHA injected by script matters on (``analysis.rendered_verdicts``).
LOGIN_CATEGORY = "login"
# Categories where a missing anti-bot measure matters more (credentials, money, personal data).
HIGH_VALUE_CATEGORIES = frozenset({"login", "signup", "password_reset", "cart", "account", "api"})

_ASSET = re.compile(
    r"\.(?:css|js|mjs|map|png|jpe?g|gif|svg|webp|avif|ico|woff2?|ttf|eot|pdf|zip|gz|mp4|mp3"
    r"|webm|xml|json|txt)$"
)


def classify_path(path: str) -> str | None:
    """The critical category of a path (lower-cased, query ignored), or None."""
    bare = urlsplit(path).path.lower()
    if _ASSET.search(bare):
        return None
    for name, pattern in CRITICAL_CATEGORIES:
        if pattern.search(bare):
            return name
    return None


def is_critical_path(path: str, flagged: frozenset[str] | set[str] = frozenset()) -> bool:
    """A path is critical when a scan flagged it (its path run carries ``critical``) or when it
    falls in a critical category."""
    return path in flagged or classify_path(path) is not None
