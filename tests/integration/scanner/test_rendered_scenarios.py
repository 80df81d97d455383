"""The rendered profile end to end: real Chromium (the Debian package, driven by Playwright) scanning
the fixture site's JS scenarios, each compared with what the HTTP-only profiles could tell.

No name is resolved: the egress proxy gets a resolver that refuses every name, so third-party
hosts a page references (www.google.com, …) are recorded by name and never contacted.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from botscope.scanner import engine
from botscope.scanner.model import PathRunSpec
from botscope.scanner.probe.browser import RenderLimits
from botscope.scanner.targets import normalize_target

from tests.fixtures.site import CANARY_COOKIE_VALUE, CANARY_TOKEN_VALUE

pytestmark = pytest.mark.slow

# Short budget: the stuck challenge waits for all of it.
OPTIONS = engine.RenderOptions(limits=RenderLimits(page_budget=4.0, settle=1.5))


def no_names(host: str) -> list[str]:
    raise OSError("the tests resolve no names")


def scan(site, policy, mode: str = "quick", path: str = "/", render: bool = True) -> dict:
    return asyncio.run(
        engine.run_scan(
            site.url(path), mode, policy, resolver=no_names, render=render, render_options=OPTIONS
        )
    )


def rendered_entry(report: dict, path: str) -> dict:
    return next(e for e in report["rendered"] if e["path"] == path)


def verdicts(entry: dict) -> dict[str, dict]:
    return {v["verdict"]: v for v in entry["verdicts"]}


def test_challenge_clears_for_a_real_browser_and_blocks_declared_ai_clients(
    fixture_site, local_policy, canary
):
    fixture_site.set_scenario("js_challenge")
    report = scan(fixture_site, local_policy)
    entry = rendered_entry(report, "/")
    assert entry["outcome"] == "served" and entry["final_status"] == 200
    assert entry["challenge"]["shown"] is True and entry["challenge"]["cleared"] is True
    assert entry["challenge"]["cleared_after_ms"] is not None and entry["challenge"]["cleared_after_ms"] >= 0
    assert entry["js_cookie_names"] == ["cf_clearance"]
    statuses = [hop for hop in report["path_runs"] if hop["profile"] == "rendered"]
    assert [r["outcome"] for r in statuses] == ["served"]
    clears = verdicts(entry)["challenge_clears_for_browser"]
    assert clears["status"] == "enforced" and sorted(clears["stopped_profiles"]) == ["ai_agent", "ai_crawler"]
    # HTTP-only: every profile, the browser profile included, is stuck on the challenge, so the
    # comparison cannot say more than "the browser baseline was challenged"
    http_only = {e["agent_profile"]: e["verdict"] for e in report["enforcement"] if e["path"] == "/"}
    assert set(http_only.values()) == {"browser_challenged"}
    # the clearance was earned by script: the browser sent the cookie on the reload
    reloads = [r for r in fixture_site.requests_for("/") if "cf_clearance=" in r["cookie"]]
    assert len(reloads) == 1


def test_challenge_that_never_clears_blocks_even_a_real_browser(fixture_site, local_policy, canary):
    fixture_site.set_scenario("js_challenge_stuck")
    report = scan(fixture_site, local_policy)
    entry = rendered_entry(report, "/")
    assert entry["outcome"] == "challenged"
    assert entry["challenge"] == {"shown": True, "cleared": False, "cleared_after_ms": None}
    assert verdicts(entry)["challenge_blocks_browser"]["status"] == "inconclusive"
    assert "challenge_clears_for_browser" not in verdicts(entry)


def test_captcha_injected_after_load_on_login_only_shows_when_rendered(fixture_site, local_policy, canary):
    fixture_site.set_scenario("js_captcha_login")
    report = scan(fixture_site, local_policy, mode="full")
    login = rendered_entry(report, "/login")
    assert login["category"] == "login"
    assert login["widgets"] == [{"kind": "recaptcha", "form": "/login", "after_load": True}]
    after_js = verdicts(login)["captcha_after_js"]
    assert after_js["widget"] == "recaptcha" and after_js["http_only_saw_captcha"] is False
    assert "www.google.com" in login["third_party_script_hosts"]
    assert "www.google.com" in login["third_party_frame_hosts"]
    # the CAPTCHA detection exists only because of the rendered run
    captcha = [d for d in report["detections"] if d["measure"] == "captcha"]
    assert captcha and all(d["profiles"] == ["rendered"] for d in captcha)
    home = rendered_entry(report, "/")
    assert home["widgets"] == [] and "captcha_after_js" not in verdicts(home)


def test_page_served_but_fingerprinted(fixture_site, local_policy, canary):
    fixture_site.set_scenario("js_fingerprint")
    report = scan(fixture_site, local_policy)
    entry = rendered_entry(report, "/")
    apis = entry["fingerprinting_apis"]
    assert {
        "canvas_readback",
        "webgl_parameters",
        "audio_context",
        "font_enumeration",
        "navigator_webdriver",
    } <= set(apis)
    assert apis["font_enumeration"] == 6
    assert verdicts(entry)["served_but_fingerprinted"]["apis"] == sorted(apis)
    assert entry["js_cookie_names"] == ["_fx_sensor"]
    # without rendering the scan reports nothing of it
    http_only = scan(fixture_site, local_policy, render=False)
    assert http_only["rendered"] == []
    assert not [d for d in http_only["detections"] if d["measure"] == "fingerprinting"]


def test_page_reaching_for_loopback_from_script_reaches_nothing(fixture_site, local_policy, canary):
    fixture_site.set_scenario("js_canary")
    before = len(canary.hits)
    report = scan(fixture_site, local_policy)
    entry = rendered_entry(report, "/")
    assert entry["outcome"] == "served"
    # img, script, iframe, fetch, XHR, WebSocket, beacon, prefetch and the redirect hop were all
    # sent to the proxy and refused there, although 127.0.0.0/8 is allowed for the scanned origin
    assert entry["refused_requests"] >= 10
    assert canary.hits[before:] == []


def test_rendered_report_is_public_safe(fixture_site, local_policy, canary):
    fixture_site.set_scenario("js_challenge")
    text = json.dumps(scan(fixture_site, local_policy)["rendered"])
    for secret in (CANARY_COOKIE_VALUE, CANARY_TOKEN_VALUE, "fixture-clearance-0123456789", "127.0.0.1"):
        assert secret not in text


def test_a_page_that_never_yields_is_cut_off_and_the_next_run_still_works(fixture_site, local_policy, canary):
    from tests.fixtures.site.scenarios import html

    spinning = html(
        "<html><body><h1>busy</h1><script>setTimeout(function () { for (;;) {} }, 50);</script></body></html>"
    )
    fixture_site.set_scenario(
        {
            "routes": {"/": spinning},
            "prefix_routes": {},
            "fallback": html("<p>ok</p>"),
            "rate_limit": None,
            "headers": [],
            "cookies": [],
        }
    )
    options = engine.RenderOptions(limits=RenderLimits(page_budget=2.0, settle=1.0))
    target = normalize_target(fixture_site.url("/"))
    specs = [PathRunSpec(path="/", profile="rendered"), PathRunSpec(path="/other", profile="rendered")]
    first, second = asyncio.run(
        engine.render_paths(specs, target, local_policy, resolver=no_names, options=options)
    )
    assert first.outcome == "error" and first.error is not None
    assert first.error.code == "render_timeout"
    assert second.outcome == "served" and second.rendered is not None and second.rendered.final_status == 200
