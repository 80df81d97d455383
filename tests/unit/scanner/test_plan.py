"""The planner: quick and full plans, critical-path discovery, same-origin, bounds."""

from __future__ import annotations

from botscope.scanner.model import FetchResult
from botscope.scanner.plan import (
    MAX_CRITICAL_PATHS,
    build_plan,
    classify_path,
    discover_critical_paths,
    extract_links,
)
from botscope.scanner.targets import normalize_target

TARGET = normalize_target("https://shop.example/")
PROFILES = {"browser", "ai_crawler", "ai_agent", "http_client"}

HOME = b"""<!doctype html><html><body>
<a href="/login">Log in</a> <a href="https://shop.example/signup">Sign up</a>
<a href="//shop.example/search?q=x#r">Search</a> <a href="/cart">Cart</a>
<a href="https://other.example/account">Elsewhere</a> <a href="http://shop.example/account">other scheme</a>
<a href="https://shop.example:8443/contact">other port</a> <a href="mailto:x@shop.example">mail</a>
<a href="javascript:void(0)">js</a> <a href="/static/login.js">asset</a> <a href="/about">About</a>
<a href="/LOGIN">dup case differs</a> <a href="/login#again">dup</a>
<form action="/account/password/reset" method="post"></form>
<form method="get"></form>
</body></html>"""
SITEMAP = b"""<?xml version="1.0"?><urlset>
<url><loc>https://shop.example/api/graphql</loc></url>
<url><loc>https://shop.example/contact-us</loc></url>
<url><loc>https://elsewhere.example/login</loc></url>
<url><loc>https://shop.example/login</loc></url>
</urlset>"""


def ok(body: bytes, url: str) -> FetchResult:
    return FetchResult(url=url, final_url=url, status=200, body=body, body_size=len(body))


def test_quick_plan_is_target_times_profiles_plus_policy_files_once():
    plan = build_plan(TARGET, "quick")
    pages = [s for s in plan.path_runs if s.kind == "page"]
    policies = [s for s in plan.path_runs if s.kind == "policy"]
    assert {(s.path, s.profile) for s in pages} == {("/", p) for p in PROFILES}
    assert all(s.category == "target" and not s.critical for s in pages)
    assert [s.path for s in policies] == [
        "/robots.txt",
        "/llms.txt",
        "/ai.txt",
        "/.well-known/tdmrep.json",
        "/.well-known/http-message-signatures-directory",
    ]
    assert all(s.profile == "browser" for s in policies)
    assert plan.discovered_paths == [] and plan.mode == "quick"


def test_full_plan_discovers_critical_same_origin_paths_from_page_and_sitemap():
    plan = build_plan(
        TARGET, "full", page=ok(HOME, TARGET.url), sitemap=ok(SITEMAP, TARGET.origin + "/sitemap.xml")
    )
    assert plan.discovered_paths == [
        "/account/password/reset",
        "/signup",
        "/login",
        "/search",
        "/cart",
        "/api/graphql",
        "/contact-us",
    ]
    critical = [s for s in plan.path_runs if s.critical]
    assert len(critical) == 4 * len(plan.discovered_paths)
    assert {s.category for s in critical} == {
        "password_reset",
        "signup",
        "login",
        "search",
        "cart",
        "api",
        "contact",
    }
    assert "/llms-full.txt" in [s.path for s in plan.path_runs if s.kind == "policy"]
    assert len(plan.path_runs) + 2 <= plan.request_budget


def _without_probe(plan):
    return [s for s in plan.path_runs if s.kind != "probe"]


def test_full_plan_is_deterministic_but_for_its_random_not_found_probe():
    kwargs = {"page": ok(HOME, TARGET.url), "sitemap": ok(SITEMAP, TARGET.origin + "/sitemap.xml")}
    first = build_plan(TARGET, "full", **kwargs)
    second = build_plan(TARGET, "full", **kwargs)
    assert _without_probe(second) == _without_probe(first)
    probes = [[s for s in plan.path_runs if s.kind == "probe"] for plan in (first, second)]
    # one never-existing path per plan, fetched once by the browser, fresh each time
    assert [len(p) for p in probes] == [1, 1]
    assert probes[0][0].profile == "browser" and probes[0][0].path.startswith(
        "/.well-known/botscope-not-found-"
    )
    assert probes[0][0].path != probes[1][0].path


def test_discovery_is_bounded_and_spread_over_categories():
    many = "".join(f'<a href="/login/{i}">l</a><a href="/search/{i}">s</a>' for i in range(40)).encode()
    chosen = discover_critical_paths(TARGET, page=ok(many, TARGET.url))
    assert len(chosen) == MAX_CRITICAL_PATHS
    assert [c for _, c in chosen[:2]] == ["login", "search"]
    assert sum(1 for _, c in chosen if c == "login") == MAX_CRITICAL_PATHS // 2


def test_a_small_budget_shrinks_discovery():
    plan = build_plan(TARGET, "full", page=ok(HOME, TARGET.url), request_budget=24)
    assert len(plan.path_runs) + 2 <= 24
    # 4 target runs + 6 policy files + 1 not-found probe = 11 runs before discovery
    assert len(plan.discovered_paths) == (24 - 2 - 11) // 4


def test_failed_or_blocked_discovery_pages_are_ignored():
    blocked = FetchResult(url=TARGET.url, status=403, body=HOME)
    errored = FetchResult(url=TARGET.url, body=HOME, error={"code": "timeout", "message": "x"})
    assert build_plan(TARGET, "full", page=blocked).discovered_paths == []
    assert build_plan(TARGET, "full", page=errored).discovered_paths == []


def test_observed_links_are_a_discovery_source():
    plan = build_plan(TARGET, "full", observe_links=["/checkout", "https://other.example/login"])
    assert plan.discovered_paths == ["/checkout"]


def test_extract_links_resolves_against_base_and_keeps_document_order():
    body = b'<base href="https://shop.example/shop/"><a href="login">x</a><form action=""></form><a href="">e</a>'
    assert extract_links(body, "https://shop.example/") == [
        "https://shop.example/shop/login",
        "https://shop.example/shop/",
    ]
    assert extract_links(b"", "https://shop.example/") == []


def test_classify_path_categories_and_assets():
    assert classify_path("/users/sign_in") == "login"
    assert classify_path("/accounts/register") == "signup"
    assert classify_path("/login/forgot-password") == "password_reset"
    assert classify_path("/my-orders") == "account"
    assert classify_path("/graphql") == "api"
    assert classify_path("/checkout/step-1") == "cart"
    assert classify_path("/static/login.js") is None
    assert classify_path("/about") is None
    assert classify_path("/joinery") is None
