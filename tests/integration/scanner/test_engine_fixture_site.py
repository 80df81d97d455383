"""The engine against the fixture site: each played defense and policy is named in the report."""

from __future__ import annotations

import asyncio
import json

import pytest
from botscope.scanner import engine
from botscope.scanner.fetch import Fetcher

from tests.fixtures.site import (
    CANARY_COOKIE_VALUE,
    CANARY_TOKEN_VALUE,
    SCENARIOS,
    FixtureSite,
    corpus_scenario,
)

PROFILES = ("browser", "ai_crawler", "ai_agent", "http_client")


def scan(site, scenario, policy, mode="quick", **kwargs):
    site.set_scenario(scenario)
    report = asyncio.run(engine.run_scan(site.url("/"), mode, policy, **kwargs))
    assert_public_safe(report)
    return report


def assert_public_safe(report):
    """Every page of the fixture site sets a canary cookie and embeds a canary token: neither
    value may reach a report (SCANNER.md "Public-safe")."""
    text = json.dumps(report)
    assert CANARY_COOKIE_VALUE not in text and CANARY_TOKEN_VALUE not in text


def outcomes(report, path="/"):
    runs = {(r["path"], r["profile"]): r["outcome"] for r in report["path_runs"]}
    return [runs[(path, p)] for p in PROFILES]


def vendors(report):
    return set(report["summary"]["vendors"])


def measures_of(report, vendor):
    return {d["measure"] for d in report["detections"] if d["vendor"] == vendor}


def verdict(report, profile, path="/"):
    return next(e["verdict"] for e in report["enforcement"] if e["agent_profile"] == profile and e["path"] == path)


# --- defenses ------------------------------------------------------------------------------------

def test_clean_site_reports_nothing_and_every_run_is_served(fixture_site, local_policy):
    report = scan(fixture_site, "clean", local_policy)
    assert report["schema_version"] == "1" and report["status"] == "completed"
    assert outcomes(report) == ["served"] * 4
    assert report["detections"] == [] and report["summary"]["posture"] == "none"
    assert report["policy"]["robots_txt"]["present"] is True
    assert report["policy"]["robots_txt"]["ai_agents"]["GPTBot"] == "allowed"


@pytest.mark.parametrize(("scenario", "vendor", "outcome", "measure"), [
    ("cloudflare_challenge", "cloudflare", "challenged", "challenge"),
    ("cloudflare_block", "cloudflare", "blocked", "waf"),
    ("datadome", "datadome", "challenged", "challenge"),
    ("akamai", "akamai", "blocked", "waf"),
    ("anubis", "anubis", "challenged", "proof_of_work"),
    ("aws_waf", "aws_waf", "challenged", "captcha"),
])
def test_site_wide_defenses_are_named(fixture_site, local_policy, scenario, vendor, outcome, measure):
    report = scan(fixture_site, scenario, local_policy)
    assert vendor in vendors(report)
    assert outcomes(report) == [outcome] * 4
    assert measure in measures_of(report, vendor)
    assert report["summary"]["posture"] != "none"
    # the scanner's own browser profile being stopped is a finding, not an error
    assert verdict(report, "ai_crawler") == "browser_challenged"


def test_robots_txt_served_as_a_challenge_counts_as_absent(fixture_site, local_policy):
    report = scan(fixture_site, "robots_html_challenge", local_policy)
    robots = report["policy"]["robots_txt"]
    assert robots["present"] is False and robots["outcome"] == "challenged"
    assert robots["ai_agents"]["GPTBot"] == "unspecified"
    assert "cloudflare" in vendors(report)


def test_ai_blocking_declared_and_enforced(fixture_site, local_policy):
    report = scan(fixture_site, "ai_blocked", local_policy)
    assert outcomes(report) == ["served", "blocked", "blocked", "served"]
    agents = report["policy"]["robots_txt"]["ai_agents"]
    assert agents["GPTBot"] == "disallowed" and agents["ChatGPT-User"] == "disallowed"
    assert verdict(report, "ai_crawler") == "enforced" and verdict(report, "ai_agent") == "enforced"


def test_ai_disallow_that_is_not_enforced(fixture_site, local_policy):
    report = scan(fixture_site, "ai_declared_only", local_policy)
    assert outcomes(report) == ["served"] * 4
    assert verdict(report, "ai_crawler") == "declared_not_enforced"


def test_cloudflare_managed_robots_and_content_signals(fixture_site, local_policy):
    report = scan(fixture_site, "cloudflare_managed", local_policy)
    robots = report["policy"]["robots_txt"]
    assert robots["managed_by"] == "cloudflare" and robots["ai_agents"]["GPTBot"] == "disallowed"
    assert report["policy"]["content_signals"] == {"search": "yes", "ai-train": "no"}
    assert outcomes(report)[1] == "blocked" and "cloudflare" in vendors(report)


def test_pay_per_crawl_402(fixture_site, local_policy):
    report = scan(fixture_site, "pay_per_crawl", local_policy)
    ppc = report["policy"]["pay_per_crawl"]
    assert ppc["detected"] is True and ppc["profiles"] == ["ai_crawler"]


def test_rate_limiting_is_reported(fixture_site, local_policy):
    report = scan(fixture_site, "rate_limit", local_policy)
    assert any(r["outcome"] == "rate_limited" for r in report["path_runs"])
    assert "rate_limit" in report["summary"]["measures_present"]


def test_tarpit_serving_different_content_to_ai_clients(fixture_site, local_policy):
    report = scan(fixture_site, "tarpit", local_policy)
    assert verdict(report, "ai_crawler") == "differential_content"
    assert verdict(report, "http_client") == "consistent"
    assert "tarpit" in report["summary"]["measures_present"]


def test_every_policy_signal(fixture_site, local_policy):
    policy = scan(fixture_site, "policy_rich", local_policy)["policy"]
    assert policy["llms_txt"]["present"] and policy["ai_txt"]["present"]
    assert policy["tdmrep"]["present"] and policy["tdmrep"]["reserved"]
    assert policy["noai_meta"] == {"noai": True, "noimageai": True}
    assert policy["web_bot_auth"]["directory_present"] is True
    assert policy["content_usage"] == {"search": "y", "train-ai": "n"}


def test_full_mode_covers_discovered_critical_paths_and_captcha_widgets(fixture_site, local_policy):
    report = scan(fixture_site, "login_captcha", local_policy, mode="full")
    paths = {r["path"] for r in report["path_runs"]}
    assert {"/login", "/signup", "/contact", "/password/forgot", "/search", "/cart"} <= paths
    assert {"recaptcha", "hcaptcha", "turnstile"} <= vendors(report)
    assert outcomes(report, "/login") == ["served"] * 4  # a widget on a form is not a block
    assert len(report["path_runs"]) <= 78


def test_full_mode_layered_site(fixture_site, local_policy):
    report = scan(fixture_site, "kitchen_sink", local_policy, mode="full")
    assert {"turnstile", "recaptcha", "datadome"} <= vendors(report)
    assert outcomes(report, "/checkout") == ["challenged"] * 4
    assert outcomes(report, "/login") == ["served", "blocked", "blocked", "served"]
    assert report["policy"]["llms_txt"]["present"] is True


JS_SCENARIOS = ["js_challenge", "js_challenge_stuck", "js_captcha_login", "js_fingerprint", "js_canary"]


def _no_names(host):
    raise OSError("the tests resolve no names")


@pytest.mark.slow
@pytest.mark.parametrize("name", JS_SCENARIOS)
def test_js_scenarios_rendered_reports_are_public_safe(fixture_site, local_policy, name):
    from botscope.scanner.probe.browser import RenderLimits

    options = engine.RenderOptions(limits=RenderLimits(page_budget=3.0, settle=1.0))
    rendered = scan(fixture_site, name, local_policy, resolver=_no_names, render=True, render_options=options)
    assert [e["path"] for e in rendered["rendered"]] == ["/"]
    # HTTP-only, the same scenario leaves the report's rendered section empty
    assert scan(fixture_site, name, local_policy)["rendered"] == []


def test_every_scenario_is_exercised_by_a_public_safety_checked_scan():
    # scan() checks public safety on every report; this keeps new scenarios from going untested
    import inspect
    import sys

    source = inspect.getsource(sys.modules[__name__])
    assert all(f'"{name}"' in source for name in SCENARIOS)


# --- engine interface ----------------------------------------------------------------------------

def test_progress_events_cover_every_path_run(fixture_site, local_policy):
    events = []
    report = scan(fixture_site, "clean", local_policy, on_progress=events.append)
    total = len(report["path_runs"])
    assert events[0].kind == "planned" and events[0].total == total
    assert sum(e.kind == "started" for e in events) == total
    finished = [e for e in events if e.kind == "finished"]
    assert len(finished) == total and sorted(e.completed for e in finished) == list(range(1, total + 1))


def test_stages_compose_like_the_pipeline(fixture_site, local_policy):
    fixture_site.set_scenario("ai_blocked")
    plan = engine.plan_scan_sync(fixture_site.url("/"), "quick", local_policy)
    plan = type(plan).model_validate_json(plan.model_dump_json())  # stored between stages
    observations = [engine.probe_sync(spec, plan.target, local_policy) for spec in plan.path_runs]
    observations = [type(o).model_validate(o.model_dump(mode="json")) for o in observations]
    report = engine.analyze(plan, observations, scan_job_id="scan_test", started_at="2026-01-01T00:00:00Z",
                            completed_at="2026-01-01T00:00:05Z")
    assert report["scan_job_id"] == "scan_test"
    assert verdict(report, "ai_crawler") == "enforced"
    many = engine.probe_many_sync(plan.path_runs[:4], plan.target, local_policy)
    assert [o.outcome for o in many] == ["served", "blocked", "blocked", "served"]


def test_full_plan_fetches_page_and_sitemap_once_each(fixture_site, local_policy):
    fixture_site.set_scenario("login_captcha")
    before = len(fixture_site.requests)

    async def run():
        async with Fetcher(local_policy) as fetcher:
            return await engine.plan_scan(fixture_site.url("/"), "full", fetcher), fetcher.requests_made
    plan, requests = asyncio.run(run())
    assert requests == 2 and len(fixture_site.requests) - before == 2
    assert "/password/forgot" in plan.discovered_paths  # only in the sitemap
    assert all(not p.startswith("http") for p in plan.discovered_paths)


def test_corpus_response_served_by_the_fixture_site(fixture_site, local_policy):
    report = scan(fixture_site, corpus_scenario("cloudflare__1"), local_policy)
    assert "cloudflare" in vendors(report)
    assert outcomes(report) == ["challenged"] * 4


def test_full_mode_plans_at_the_origin_a_redirecting_target_lands_on(fixture_site, local_policy):
    fixture_site.set_scenario("login_captcha")
    with FixtureSite({"description": "redirects everything to the real site", "routes": {},
                      "prefix_routes": {"/": {"status": 301, "headers": [["Location", fixture_site.url("/")]],
                                              "body": ""}},
                      "fallback": None, "rate_limit": None, "headers": [], "cookies": []}) as front:
        report = asyncio.run(engine.run_scan(front.url("/"), "full", local_policy))
        assert report["target_url"] == fixture_site.url("/")
        assert "/login" in {r["path"] for r in report["path_runs"]}
        assert len(front.requests) == 2  # the target page and the sitemap, then nothing


def test_absent_robots_txt_leaves_every_agent_unspecified(fixture_site, local_policy):
    report = scan(fixture_site, "no_policy", local_policy)
    robots = report["policy"]["robots_txt"]
    assert robots["present"] is False
    assert set(robots["ai_agents"].values()) == {"unspecified"}


def test_ai_only_challenge_without_declaration(fixture_site, local_policy):
    report = scan(fixture_site, "ai_challenged_undeclared", local_policy)
    assert outcomes(report) == ["served", "challenged", "challenged", "served"]
    assert verdict(report, "ai_crawler") == "undeclared_block"
    assert "challenge" in measures_of(report, "cloudflare")


def test_a_failing_analysis_of_one_path_run_does_not_fail_the_scan(fixture_site, local_policy, monkeypatch):
    from botscope.scanner import observe

    real = observe.build_observation

    def flaky(spec, result, ruleset=None):
        if spec.path == "/ai.txt":
            raise ValueError("boom with response text that must not leak")
        return real(spec, result, ruleset)

    monkeypatch.setattr(observe, "build_observation", flaky)
    report = scan(fixture_site, "clean", local_policy)
    failed = [r for r in report["path_runs"] if r["path"] == "/ai.txt"]
    assert failed[0]["outcome"] == "error" and failed[0]["error"]["code"] == "internal_error"
    assert "boom" not in json.dumps(report)
    assert outcomes(report) == ["served"] * 4
