"""From one fetch to an ``Observation``: features, rule matches and the path run's outcome.

The observation is what every later stage works from, so it is reduced here: cookie *names* only
(never values), the values of an allow-list of non-secret headers, a few page features parsed once
with selectolax (lexbor), and, for a real policy file, its bounded text. The raw body is dropped.

Outcome (docs/report.md "Client profiles and path runs"): status and rule matches decide together — a 403 challenge page is
"challenged", a 200 login page with a CAPTCHA widget is "served" (with a captcha match), a 401
Anubis page is "challenged", 405 + ``x-amzn-waf-action: captcha`` is "challenged", a 429 is
"rate_limited" unless a vendor challenge is on it, LinkedIn's 999 is "blocked".
"""

from __future__ import annotations

import hashlib
import html
import re
import zlib
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from botscope.scanner.model import FetchResult, Observation, Outcome, PathRunSpec, RuleMatch
from botscope.scanner.rules_engine import ResponseFeatures, Ruleset, body_window, load_ruleset
from botscope.scanner.sanitize import HEADER_LIMIT, KEY_LIMIT, TEXT_LIMIT, site_text
from botscope.scanner.vocabulary import TIMEOUT

# Header values worth keeping: none of them carries a secret, a cookie or an address.
HEADER_VALUE_ALLOWLIST = frozenset(
    {
        "server",
        "content-type",
        "content-length",
        "cf-mitigated",
        "cf-cache-status",
        "x-robots-tag",
        "content-signal",
        "content-usage",
        "tdm-reservation",
        "tdm-policy",
        "crawler-price",
        "crawler-charged",
        "crawler-error",
        "x-amzn-waf-action",
        "x-vercel-mitigated",
        "retry-after",
        "x-datadome",
        "vary",
        "cache-control",
        # Web Bot Auth: the key directory's own HTTP message signature (public by design)
        "signature",
        "signature-input",
        "content-digest",
    }
)
POLICY_TEXT_LIMIT = 512 * 1024
HTML_PARSE_LIMIT = 1024 * 1024  # DOM features come from the first MiB …
HTML_TAIL_PARSE = 64 * 1024  # … plus script/iframe hosts of the last 64 KiB
MAX_LINKS = 200
MAX_HOSTS = 50
SHINGLE_TEXT_LIMIT = 32 * 1024
SHINGLE_SIZE = 4
SHINGLE_KEEP = 64

_TDM_META_NAMES = frozenset({"tdm-reservation", "tdm-policy"})
MAX_META_VALUE = 300
_CHALLENGE_MEASURES = frozenset({"challenge", "captcha", "proof_of_work", "waiting_room"})
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(\.0*)?\s*(;|$)|left\s*:\s*-\d{3,}px"
)
_SECRET_KEY = re.compile(
    r"token|key|sig|session|sess|sid|auth|code|nonce|hash|secret|pass|otp|jwt|ticket", re.IGNORECASE
)
_SCRIPT_STYLE = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"[a-z0-9]{2,}")
_TITLE_RE = re.compile(r"<title[^>]*>([^<]{0,300})</title>")
_META_ROBOTS_RE = re.compile(r"<meta\s[^>]*name\s*=\s*[\"']?robots[\"']?[^>]*>")
_CONTENT_ATTR_RE = re.compile(r"content\s*=\s*[\"']([^\"']*)[\"']")
_HTML_SNIFF = re.compile(
    rb"^\s*(<!doctype\s+html|<html|<head|<body|<meta|<title|<script|<div|<!--)", re.IGNORECASE
)


def _cookie_names(headers: list[tuple[str, str]]) -> list[str]:
    names: list[str] = []
    for name, value in headers:
        if name.lower() != "set-cookie":
            continue
        cookie = value.split(";", 1)[0]
        cookie_name = site_text(cookie.split("=", 1)[0], KEY_LIMIT * 2)
        if cookie_name and cookie_name not in names:
            names.append(cookie_name)
    return names


def _is_html(content_type: str | None, body: bytes) -> bool:
    if content_type:
        lowered = content_type.lower()
        if "html" in lowered:
            return True
        if lowered.startswith(("text/plain", "application/json", "text/markdown", "application/")):
            return bool(_HTML_SNIFF.match(body[:512]))
    return bool(_HTML_SNIFF.match(body[:512]))


def _host(url: str | None) -> str | None:
    if not url:
        return None
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    if not url.lower().startswith(("http://", "https://")):
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def _same_origin_path(url: str | None, origin_host: str | None) -> str | None:
    """The path+query of a same-origin link (relative or absolute with our host), else None."""
    if not url:
        return None
    url = url.strip()
    if url.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
        return None
    try:
        parts = urlsplit(url if not url.startswith("//") else "https:" + url)
    except ValueError:
        return None
    if parts.scheme and parts.scheme not in ("http", "https"):
        return None
    if parts.hostname and (origin_host is None or parts.hostname.lower() != origin_host):
        return None
    path = parts.path or "/"
    if not path.startswith("/"):
        path = "/" + path
    query = _redact_query(parts.query)
    return path + (f"?{query}" if query else "")


def _redact_query(query: str) -> str:
    """Keep query structure for discovery (``?route=account/login``) but never a token-like value:
    links can carry reset tokens, session ids or signed parameters."""
    if not query:
        return ""
    kept = []
    for item in query.split("&")[:20]:
        key, sep, value = item.partition("=")
        if sep and (_SECRET_KEY.search(key) or len(value) > 32):
            value = "redacted"
        kept.append(f"{key}{sep}{value}")
    return "&".join(kept)


def text_shingles(text: str) -> list[int]:
    """A bottom-k sketch of word 4-gram hashes: enough to tell near-identical pages from different
    ones (possible tarpit / labyrinth) without keeping any text."""
    words = _WORD.findall(text[:SHINGLE_TEXT_LIMIT].lower())
    if len(words) < SHINGLE_SIZE:
        return [zlib.crc32(" ".join(words).encode())] if words else []
    hashes = {
        zlib.crc32(" ".join(words[i : i + SHINGLE_SIZE]).encode())
        for i in range(len(words) - SHINGLE_SIZE + 1)
    }
    return sorted(hashes)[:SHINGLE_KEEP]


def shingle_similarity(a: list[int], b: list[int]) -> float:
    """Jaccard estimate of two bottom-k sketches (1.0 = same text)."""
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    k = min(len(a), len(b), SHINGLE_KEEP)
    union_bottom = sorted(set(a) | set(b))[:k]
    both = set(a) & set(b)
    return sum(1 for h in union_bottom if h in both) / len(union_bottom)


class _PageFeatures:
    __slots__ = (
        "title",
        "script_hosts",
        "iframe_hosts",
        "form_count",
        "links",
        "form_actions",
        "hidden_nofollow_links",
        "meta_robots",
        "meta_tdm",
        "shingles",
    )

    def __init__(self) -> None:
        self.title: str | None = None
        self.script_hosts: list[str] = []
        self.iframe_hosts: list[str] = []
        self.form_count = 0
        self.links: list[str] = []
        self.form_actions: list[str] = []
        self.hidden_nofollow_links = 0
        self.meta_robots: list[str] = []
        self.meta_tdm: dict[str, str] = {}
        self.shingles: list[int] = []


def _add_unique(items: list[str], value: str | None, limit: int) -> None:
    if value and value not in items and len(items) < limit:
        items.append(value)


def _parse_html(body: bytes, origin_host: str | None) -> _PageFeatures:
    """One lexbor parse, then a few targeted CSS queries. ``attrs`` (lazy) is used instead of
    ``attributes`` (builds a dict per node): on a 2 MB page with thousands of links that matters."""
    features = _PageFeatures()
    tree = LexborHTMLParser(body[:HTML_PARSE_LIMIT])
    title = tree.css_first("title")
    if title is not None:
        features.title = " ".join(title.text().split())[:300] or None
    for node in tree.css("script[src]"):
        _add_unique(features.script_hosts, _host(node.attrs.get("src")), MAX_HOSTS)
    for node in tree.css("iframe[src]"):
        _add_unique(features.iframe_hosts, _host(node.attrs.get("src")), MAX_HOSTS)
    forms = tree.css("form")
    features.form_count = len(forms)
    for node in forms:
        _add_unique(
            features.form_actions, _same_origin_path(node.attrs.get("action") or "", origin_host), MAX_LINKS
        )
    for node in tree.css("meta[name]"):
        attrs = node.attrs
        name = (attrs.get("name") or "").strip().lower()
        if name in _TDM_META_NAMES and name not in features.meta_tdm:
            # W3C TDMRep's HTML channel; the value is site-controlled, so it is bounded here
            features.meta_tdm[name] = " ".join((attrs.get("content") or "").split())[:MAX_META_VALUE]
        if name == "robots":
            for token in (attrs.get("content") or "").lower().split(","):
                token = token.strip()
                if token and token not in features.meta_robots:
                    features.meta_robots.append(token)
    for index, node in enumerate(tree.css("a[href]")):
        # discovery needs the first links of the page, not all of them
        if len(features.links) >= MAX_LINKS or index >= MAX_LINKS * 10:
            break
        _add_unique(features.links, _same_origin_path(node.attrs.get("href"), origin_host), MAX_LINKS)
    if len(body) > HTML_PARSE_LIMIT:
        tail = LexborHTMLParser(body[-HTML_TAIL_PARSE:])
        for node in tail.css("script[src]"):
            _add_unique(features.script_hosts, _host(node.attrs.get("src")), MAX_HOSTS)
        for node in tail.css("iframe[src]"):
            _add_unique(features.iframe_hosts, _host(node.attrs.get("src")), MAX_HOSTS)
    for node in tree.css('a[rel~="nofollow" i]'):
        attrs = node.attrs
        style = (attrs.get("style") or "").lower()
        if (
            "hidden" in attrs
            or (attrs.get("aria-hidden") or "").lower() == "true"
            or _HIDDEN_STYLE.search(style)
        ):
            features.hidden_nofollow_links += 1
    return features


def _visible_text(body: bytes) -> str:
    """Approximate visible text of the start of the page body (for shingles): scripts, styles and
    tags removed by regex on a bounded slice — far cheaper than a DOM text walk of 2 MB."""
    raw = body[: SHINGLE_TEXT_LIMIT * 3].decode("utf-8", "replace")
    start = raw.lower().find("<body")
    if start > 0:
        raw = raw[start:]
    raw = _SCRIPT_STYLE.sub(" ", raw)
    return html.unescape(_TAG.sub(" ", raw))[:SHINGLE_TEXT_LIMIT]


def _regex_fallbacks(page: _PageFeatures, window: str) -> None:
    """Broken markup (an unclosed script, a truncated body) can hide the title or the robots meta
    from the DOM parser; a bounded regex over the lower-cased window recovers them."""
    if page.title is None and "<title" in window:
        found = _TITLE_RE.search(window)
        if found:
            page.title = html.unescape(" ".join(found.group(1).split())) or None
    if not page.meta_robots and "robots" in window:
        for tag in _META_ROBOTS_RE.finditer(window):
            content = _CONTENT_ATTR_RE.search(tag.group(0))
            for token in (content.group(1) if content else "").split(","):
                token = token.strip()
                if token and token not in page.meta_robots:
                    page.meta_robots.append(token)


def decide_outcome(status: int | None, matches: list[RuleMatch], error_code: str | None = None) -> Outcome:
    """The path run's outcome from the final status and the rule matches together. An answer that
    did not complete within the time budget is ``timed_out`` whatever its status line said: a
    200 that drips for ever is a stall, not served content."""
    if error_code == TIMEOUT:
        return "timed_out"
    if status is None:
        return "error"
    active = [m for m in matches if m.active]
    vendor_active = [m for m in active if m.vendor is not None]
    if any(m.measure == "waiting_room" for m in vendor_active) and 300 <= status < 400:
        return "redirected"
    if any(m.measure in _CHALLENGE_MEASURES for m in vendor_active):
        return "challenged"
    if vendor_active:
        # an active vendor block (WAF page, DataDome 403, pay-per-crawl 402, …)
        return "rate_limited" if status == 429 else "blocked"
    if status == 429 or any(m.measure == "rate_limit" for m in active):
        return "rate_limited"
    if active:
        return "blocked"
    if 200 <= status < 300:
        return "served"
    if 300 <= status < 400:
        return "redirected"
    if status in (404, 410):
        return "not_found"
    if 400 <= status < 500 or status >= 600:
        return "blocked"
    return "error"


def _duration_to_last_byte(fetch: FetchResult) -> int | None:
    """``duration_ms`` is the time to the last byte read. A stalled answer's last byte came long
    before the deadline that ended the fetch; an answer with no body ends at its headers."""
    if fetch.last_byte_ms is not None:
        return fetch.last_byte_ms
    if fetch.error is not None and fetch.error.code == TIMEOUT and fetch.ttfb_ms is not None:
        return fetch.ttfb_ms
    return fetch.duration_ms


def build_observation(spec: PathRunSpec, fetch: FetchResult, ruleset: Ruleset | None = None) -> Observation:
    """Reduce one fetch to its observation (features, matches, outcome). Never raises for odd
    responses: a failed fetch becomes an ``error`` observation."""
    ruleset = ruleset or load_ruleset()
    error_code = fetch.error.code if fetch.error is not None else None
    observation = _transport_observation(spec, fetch)
    if fetch.status is None or error_code == TIMEOUT:
        # no answer, or one that stalled: nothing of it is evidence of content
        observation.outcome = decide_outcome(fetch.status, [], error_code)
        return observation

    headers = [(name.lower(), value) for name, value in fetch.headers]
    _record_headers(observation, headers)
    body = fetch.body
    if body:
        observation.body_sha256 = hashlib.sha256(body).hexdigest()
    is_html = bool(body) and _is_html(observation.content_type, body)
    page = _page_features(body, is_html, _host(fetch.final_url or fetch.url))
    window = body_window(body) if body else ""
    if is_html:
        _regex_fallbacks(page, window)
    _record_page(observation, page)

    features = ResponseFeatures(
        status=fetch.status,
        headers=headers,
        cookie_names=observation.cookie_names,
        # A served plain-text policy file is a declaration, not markup: its text may name vendors
        # and markers (llms.txt prose, robots.txt paths) without showing any of them.
        body_text="" if spec.kind == "policy" and not is_html else window,
        title=(page.title or "").lower() or None,
        script_hosts=page.script_hosts,
        iframe_hosts=page.iframe_hosts,
    )
    observation.matches = ruleset.match(features)
    observation.outcome = decide_outcome(fetch.status, observation.matches, error_code)

    # A policy file counts only when it was really served as a file: a challenge or an HTML error
    # page at /robots.txt is not a robots.txt (its outcome says why). Any 2xx carries the file
    # (RFC 9309 2.3.1.1); whether the body is the file or a catch-all page is decided by
    # ``policy`` against the never-existing path.
    if (
        spec.kind == "policy"
        and observation.outcome == "served"
        and 200 <= fetch.status < 300
        and body
        and not is_html
    ):
        observation.policy_text = body[:POLICY_TEXT_LIMIT].decode("utf-8", "replace")
    return observation


def _transport_observation(spec: PathRunSpec, fetch: FetchResult) -> Observation:
    """The observation of what the exchange itself showed: status, error, timings, redirects."""
    observation = Observation(
        spec=spec,
        http_status=fetch.status,
        error=fetch.error,
        started_at=fetch.started_at,
        duration_ms=_duration_to_last_byte(fetch),
        ttfb_ms=fetch.ttfb_ms,
        redirect_chain=list(fetch.redirect_chain),
        body_size=fetch.body_size or len(fetch.body),
        body_truncated=fetch.body_truncated,
        http_version=fetch.http_version,
    )
    if fetch.final_url:
        observation.final_path = _same_origin_path(fetch.final_url, _host(fetch.url))
    return observation


def _record_headers(observation: Observation, headers: list[tuple[str, str]]) -> None:
    """Every header name, the values of the allow-listed ones, the cookie names."""
    names: list[str] = []
    kept: dict[str, str] = {}
    for name, value in headers:
        if name not in names:
            names.append(name)
        if name in HEADER_VALUE_ALLOWLIST:
            # repeated headers are joined as HTTP allows; bounded so a huge header can't bloat storage
            kept[name] = site_text(f"{kept[name]}, {value}" if name in kept else value, HEADER_LIMIT)
    observation.header_names = names
    observation.headers = kept
    observation.cookie_names = _cookie_names(headers)
    observation.content_type = kept.get("content-type")


def _page_features(body: bytes, is_html: bool, host: str | None) -> _PageFeatures:
    """The parsed page (HTML only) and the text shingles of any body."""
    page = _parse_html(body, host) if is_html else _PageFeatures()
    if body:
        # policy files and the never-existing path get shingles too: the soft-404 comparison needs them
        page.shingles = text_shingles(
            _visible_text(body) if is_html else body[:SHINGLE_TEXT_LIMIT].decode("utf-8", "replace")
        )
    return page


def _record_page(observation: Observation, page: _PageFeatures) -> None:
    observation.title = site_text(page.title, TEXT_LIMIT) or None if page.title else None
    observation.script_hosts = page.script_hosts
    observation.iframe_hosts = page.iframe_hosts
    observation.form_count = page.form_count
    observation.links = page.links
    observation.form_actions = page.form_actions
    observation.hidden_nofollow_links = page.hidden_nofollow_links
    observation.meta_robots = page.meta_robots
    observation.meta_tdm = page.meta_tdm
    observation.text_shingles = page.shingles
