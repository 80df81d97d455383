"""The scan plan: which paths are fetched with which client profiles.

quick: the target path with every profile, plus each policy file once (browser profile), plus
       one random never-existing path (the soft-404 baseline for the policy files).
full:  quick, plus up to ``MAX_CRITICAL_PATHS`` critical same-origin paths (login, signup, password
       reset, search, cart/checkout, account, api, contact) discovered from the target page's
       links and form actions and from /sitemap.xml, each with every profile, bounded so the whole
       scan stays within the request budget.
render: one ``rendered`` path run (a real browser) for the target, and in full mode for each
       critical path too. ``RENDER_REQUEST_SHARE`` requests of the budget are set aside per
       rendered run; every request the browser sends to the target host is counted against the
       same budget while it runs (``probe.egress_proxy``).

Pure: the pages used for discovery are passed in (``engine.plan_scan`` fetches them).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from botscope.errors import InvalidTarget
from botscope.scanner.critical_paths import CRITICAL_CATEGORIES, classify_path
from botscope.scanner.model import (
    FetchResult,
    PathRunSpec,
    ProfileId,
    RenderedProfileId,
    ScanMode,
    ScanPlan,
    Target,
)
from botscope.scanner.profiles import PROFILE_IDS
from botscope.scanner.targets import normalize_target
from botscope.scanner.vocabulary import (
    FULL_ONLY_POLICY_FILES,
    NOT_FOUND_PROBE_CATEGORY,
    POLICY_FILES,
    POLICY_PATHS,
    TARGET_CATEGORY,
)

REQUEST_BUDGET = 80
MAX_CRITICAL_PATHS = 10
DISCOVERY_REQUESTS = 2  # full mode fetches the target page and /sitemap.xml to plan
SITEMAP_PATH = "/sitemap.xml"
# One path that exists on no site: what the site answers there is what it answers to everything.
# A policy file whose body matches it is a soft 404, not a published file (``policy.is_soft_404``).
NOT_FOUND_PROBE_PREFIX = "/.well-known/botscope-not-found-"
RENDER_PROFILE: RenderedProfileId = "rendered"
# Budget set aside per rendered path run: its document. The browser's other requests to the target
# host (assets, a challenge's reload) draw on what the HTTP path runs left, and are refused once the
# budget is spent (the run then records ``limit_hit``).
RENDER_REQUEST_SHARE = 1

_SITEMAP_LOC = re.compile(r"<loc>\s*([^<\s]{1,2000})\s*</loc>", re.IGNORECASE)
_MAX_CANDIDATES = 2000


def extract_links(body: bytes | str, base_url: str) -> list[str]:
    """Absolute URLs of the links (a, area) and form actions of an HTML page, in document order.
    A form without an action posts to the page itself."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if not text.strip():
        return []
    tree = LexborHTMLParser(text)
    base = base_url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        try:
            base = urljoin(base_url, (base_node.attributes.get("href") or "").strip())
        except ValueError:
            base = base_url
    links: list[str] = []
    for node in tree.css("a[href], area[href], form"):
        raw = node.attributes.get("action" if node.tag == "form" else "href")
        raw = (raw or "").strip()
        if node.tag != "form" and not raw:
            continue
        try:
            links.append(urljoin(base, raw))
        except ValueError:
            continue  # "http://[x": a link the page got wrong costs only that link
        if len(links) >= _MAX_CANDIDATES:
            break
    return links


def sitemap_urls(body: bytes | str) -> list[str]:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return [m.group(1).replace("&amp;", "&") for m in _SITEMAP_LOC.finditer(text)][:_MAX_CANDIDATES]


def _same_origin_path(url: str, target: Target) -> str | None:
    """The path (no query, no fragment) of ``url`` if it is on the target's origin."""
    try:
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            return None
        normalized = normalize_target(url)
    except (InvalidTarget, ValueError):
        return None
    if normalized.origin != target.origin:
        return None
    return urlsplit(normalized.path).path or "/"


def _usable(result: FetchResult | None) -> bool:
    return (
        result is not None
        and result.error is None
        and result.status is not None
        and 200 <= result.status < 300
    )


def discover_critical_paths(
    target: Target,
    *,
    page: FetchResult | None = None,
    sitemap: FetchResult | None = None,
    observed_links: Iterable[str] = (),
    limit: int = MAX_CRITICAL_PATHS,
) -> list[tuple[str, str]]:
    """Up to ``limit`` (path, category) pairs, spread over the categories: first one path per
    category in category order, then a second per category, and so on. Deterministic."""
    candidates: list[str] = []
    if _usable(page):
        assert page is not None
        candidates += extract_links(page.body, page.final_url or target.url)
    if _usable(sitemap):
        assert sitemap is not None
        candidates += sitemap_urls(sitemap.body)
    for link in observed_links:
        try:
            candidates.append(urljoin(target.url, link))
        except ValueError:
            continue

    excluded = {
        urlsplit(target.path).path,
        SITEMAP_PATH,
        *POLICY_PATHS,
    }
    by_category: dict[str, list[str]] = {name: [] for name, _ in CRITICAL_CATEGORIES}
    seen: set[str] = set()
    for url in candidates:
        path = _same_origin_path(url, target)
        # "/Login" and "/login/" are the same page on most servers: one path run is enough.
        key = path.lower().rstrip("/") if path else None
        if path is None or key is None or path in excluded or key in seen:
            continue
        category = classify_path(path)
        if category is None:
            continue
        seen.add(key)
        by_category[category].append(path)

    chosen: list[tuple[str, str]] = []
    depth = 0
    while len(chosen) < limit and any(len(paths) > depth for paths in by_category.values()):
        for name, _ in CRITICAL_CATEGORIES:
            if len(chosen) >= limit:
                break
            if len(by_category[name]) > depth:
                chosen.append((by_category[name][depth], name))
        depth += 1
    return chosen


def not_found_probe_path() -> str:
    """A fresh random path per plan, so no cache or site can have prepared an answer for it."""
    return f"{NOT_FOUND_PROBE_PREFIX}{secrets.token_hex(8)}.txt"


def build_plan(
    target: Target,
    mode: ScanMode,
    *,
    page: FetchResult | None = None,
    sitemap: FetchResult | None = None,
    observe_links: Iterable[str] = (),
    request_budget: int = REQUEST_BUDGET,
    profiles: tuple[ProfileId, ...] = PROFILE_IDS,
    render: bool = False,
) -> ScanPlan:
    """``profiles``: the client profiles each page path is fetched with (every plan's four, plus
    ``signed_agent`` when the scan signs); ``render`` adds one rendered path run per page path."""
    runs = [
        PathRunSpec(path=target.path, profile=profile, kind="page", category=TARGET_CATEGORY)
        for profile in profiles
    ]
    if render:
        runs.append(
            PathRunSpec(path=target.path, profile=RENDER_PROFILE, kind="page", category=TARGET_CATEGORY)
        )
    policy_files = POLICY_FILES + (FULL_ONLY_POLICY_FILES if mode == "full" else ())
    runs += [
        PathRunSpec(path=file.path, profile="browser", kind="policy", category=file.name)
        for file in policy_files
    ]
    runs.append(
        PathRunSpec(
            path=not_found_probe_path(), profile="browser", kind="probe", category=NOT_FOUND_PROBE_CATEGORY
        )
    )
    discovered: list[str] = []
    if mode == "full":
        render_share = RENDER_REQUEST_SHARE if render else 0
        http_runs = sum(1 for run in runs if run.profile != RENDER_PROFILE)
        spare = request_budget - http_runs - DISCOVERY_REQUESTS - render_share
        per_path = len(profiles) + render_share
        limit = max(0, min(MAX_CRITICAL_PATHS, spare // per_path))
        for path, category in discover_critical_paths(
            target, page=page, sitemap=sitemap, observed_links=observe_links, limit=limit
        ):
            discovered.append(path)
            runs += [
                PathRunSpec(path=path, profile=profile, kind="page", critical=True, category=category)
                for profile in profiles
            ]
            if render:
                runs.append(
                    PathRunSpec(
                        path=path, profile=RENDER_PROFILE, kind="page", critical=True, category=category
                    )
                )
    return ScanPlan(
        target=target, mode=mode, path_runs=runs, discovered_paths=discovered, request_budget=request_budget
    )
