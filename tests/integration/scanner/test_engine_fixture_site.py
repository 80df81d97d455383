"""The engine against the fixture site: each played defense and policy is named in the report."""

from __future__ import annotations

import asyncio
import json

import pytest
from botscope.scanner import engine
from botscope.scanner.fetch import Fetcher, FetchLimits

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
    value may reach a report (docs/report.md "Principles")."""
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
    return next(
        e["verdict"] for e in report["enforcement"] if e["agent_profile"] == profile and e["path"] == path
    )


# --- defenses ------------------------------------------------------------------------------------


def test_clean_site_reports_nothing_and_every_run_is_served(fixture_site, local_policy):
    report = scan(fixture_site, "clean", local_policy)
    assert report["schema_version"] == "1" and report["status"] == "completed"
    assert outcomes(report) == ["served"] * 4
    assert report["detections"] == [] and report["summary"]["posture"] == "none"
    assert report["policy"]["robots_txt"]["present"] is True
    assert report["policy"]["robots_txt"]["ai_agents"]["GPTBot"] == "allowed"


@pytest.mark.parametrize(
    ("scenario", "vendor", "outcome", "measure"),
    [
        ("cloudflare_challenge", "cloudflare", "challenged", "challenge"),
        ("cloudflare_block", "cloudflare", "blocked", "waf"),
        ("datadome", "datadome", "challenged", "challenge"),
        ("akamai", "akamai", "blocked", "waf"),
        ("anubis", "anubis", "challenged", "proof_of_work"),
        ("aws_waf", "aws_waf", "challenged", "captcha"),
    ],
)
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
    report = engine.analyze(
        plan,
        observations,
        scan_job_id="scan_test",
        started_at="2026-01-01T00:00:00Z",
        completed_at="2026-01-01T00:00:05Z",
    )
    assert report["scan_job_id"] == "scan_test"
    assert verdict(report, "ai_crawler") == "enforced"
    assert [o.outcome for o in observations[:4]] == ["served", "blocked", "blocked", "served"]


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
    with FixtureSite(
        {
            "description": "redirects everything to the real site",
            "routes": {},
            "prefix_routes": {
                "/": {"status": 301, "headers": [["Location", fixture_site.url("/")]], "body": ""}
            },
            "fallback": None,
            "rate_limit": None,
            "headers": [],
            "cookies": [],
        }
    ) as front:
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


# --- never claim what was not seen -----------------------------------------------------------------

POLICY_FILE_KEYS = ("llms_txt", "llms_full_txt", "ai_txt")


@pytest.mark.parametrize("scenario", ["catch_all_html", "catch_all_json", "catch_all_binary"])
def test_a_site_answering_200_to_everything_publishes_no_policy_file(fixture_site, local_policy, scenario):
    report = scan(fixture_site, scenario, local_policy, mode="full")
    policy = report["policy"]
    # every policy path was fetched and answered 200 …
    assert policy["llms_txt"]["http_status"] == 200 and policy["tdmrep"]["http_status"] == 200
    # … and none of them counts as published
    assert not any(policy[key]["present"] for key in POLICY_FILE_KEYS)
    assert not policy["tdmrep"]["present"] and not policy["web_bot_auth"]["directory_present"]
    assert policy["robots_txt"]["present"] is False and policy["robots_txt"]["access"] == "not_a_file"
    assert "policy" not in report["summary"]["measures_present"]
    assert not [f for f in report["findings"] if f["category"] == "policy" and f["status"] == "present"]
    # the never-existing path was probed once, by the browser
    probes = [r for r in report["path_runs"] if r["kind"] == "probe"]
    assert len(probes) == 1 and probes[0]["http_status"] == 200


def test_real_policy_files_are_not_mistaken_for_soft_404s(fixture_site, local_policy):
    report = scan(fixture_site, "policy_rich", local_policy, mode="full")
    policy = report["policy"]
    assert (
        policy["llms_txt"]["present"] and policy["llms_full_txt"]["present"] and policy["ai_txt"]["present"]
    )
    assert policy["llms_txt"]["soft_404"] is False


def test_a_slow_drip_to_ai_clients_is_timed_out_and_a_tarpit(fixture_site, local_policy):
    limits = FetchLimits(total_timeout=1.5, read_timeout=1.0)
    report = scan(fixture_site, "slow_drip", local_policy, limits=limits)
    runs = {(r["path"], r["profile"]): r for r in report["path_runs"]}
    assert runs[("/", "browser")]["outcome"] == "served"
    for profile in ("ai_crawler", "ai_agent"):
        run = runs[("/", profile)]
        # never "served": the answer did not complete; its duration ends at the last byte read
        assert run["outcome"] == "timed_out" and run["error"]["code"] == "timeout"
        assert run["duration_ms"] is not None
    tarpit = [f for f in report["findings"] if f["measure"] == "tarpit" and f["status"] == "present"]
    assert len(tarpit) == 1 and tarpit[0]["profiles"] == ["ai_agent", "ai_crawler"]
    assert "tarpit" in report["summary"]["measures_present"]
    # a stall is not read as "consistent" with the browser
    assert verdict(report, "ai_crawler") == "inconclusive"


def test_robots_txt_503_means_complete_disallow_and_says_so(fixture_site, local_policy):
    report = scan(fixture_site, "robots_503", local_policy)
    robots = report["policy"]["robots_txt"]
    assert (
        robots["http_status"] == 503
        and robots["access"] == "unreachable"
        and robots["effect"] == "disallow_all"
    )
    assert robots["present"] is False
    assert "robots_txt_unreachable" in {item["code"] for item in report["summary"]["limitations"]}
    finding = next(f for f in report["findings"] if f["title"].startswith("robots.txt unreachable"))
    assert "503" in finding["summary"] and "RFC 9309" in finding["summary"]
    # no declaration was made, so no agent is "declared disallowed"
    assert {e["declared"] for e in report["enforcement"]} == {"unreachable"}


def test_robots_txt_404_means_no_restrictions(fixture_site, local_policy):
    report = scan(fixture_site, "no_policy", local_policy)
    robots = report["policy"]["robots_txt"]
    assert robots["access"] == "unavailable" and robots["effect"] == "allow_all"


def test_every_profile_challenged_claims_no_comparison(fixture_site, local_policy):
    report = scan(fixture_site, "cloudflare_challenge", local_policy)
    assert report["summary"]["baseline"] == "stopped"
    assert "browser_baseline_stopped" in {item["code"] for item in report["summary"]["limitations"]}
    # the other clients are compared with a challenged browser: never enforced / undeclared / consistent
    assert {e["verdict"] for e in report["enforcement"]} == {"browser_challenged"}
    assert report["summary"]["posture"] != "unknown"


def test_generic_robots_rules_are_not_reported_as_aimed_at_ai(fixture_site, local_policy):
    site = {
        "description": "only a generic disallow",
        "routes": {
            "/": {
                "status": 200,
                "headers": [["Content-Type", "text/html"]],
                "body": "<html><title>x</title><body>hello</body></html>",
            },
            "/robots.txt": {
                "status": 200,
                "headers": [["Content-Type", "text/plain"]],
                "body": "User-agent: *\nDisallow: /admin/\n",
            },
        },
        "prefix_routes": {},
        "fallback": {
            "status": 404,
            "headers": [["Content-Type", "text/html"]],
            "body": "<html><title>Not found</title></html>",
        },
        "rate_limit": None,
        "headers": [],
        "cookies": [],
    }
    report = scan(fixture_site, site, local_policy)
    titles = {f["title"] for f in report["findings"]}
    assert "robots.txt has generic crawler rules" in titles
    assert "robots.txt restricts AI agents by name" not in titles
    assert report["policy"]["robots_txt"]["ai_agents_named"] == []
    assert "policy" not in report["summary"]["measures_present"]


def _carried(report, measure):
    """A detection or a finding of this measure that says what was seen (evidence)."""
    if any(d["measure"] == measure and d["evidence"] for d in report["detections"]):
        return True
    return any(
        (f["measure"] == measure or (measure == "policy" and f["category"] == "policy"))
        and f["status"] != "absent"
        and f["evidence"]
        and f["summary"]
        for f in report["findings"]
    )


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_summary_measure_is_backed_by_evidence(fixture_site, local_policy, name):
    limits = FetchLimits(total_timeout=1.5, read_timeout=1.0)
    report = scan(fixture_site, name, local_policy, limits=limits)
    unbacked = [m for m in report["summary"]["measures_present"] if not _carried(report, m)]
    assert unbacked == [], f"{name}: {unbacked}"


def test_user_agent_blocking_says_what_was_seen(fixture_site, local_policy):
    report = scan(fixture_site, "ai_blocked", local_policy)
    finding = next(f for f in report["findings"] if f["title"] == "Client types stopped by User-Agent")
    assert finding["summary"].startswith("AI clients answered 403 by User-Agent")
    assert "no vendor identified" in finding["summary"]


def test_a_target_that_never_answers_fails_the_scan(local_policy):
    import socket

    from botscope.errors import TargetUnreachable

    with socket.socket() as sock:  # a port with nothing listening: every connection is refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TargetUnreachable) as raised:
        asyncio.run(engine.run_scan(f"http://127.0.0.1:{port}/", "quick", local_policy))
    assert raised.value.code == "target_unreachable" and "127.0.0.1" not in raised.value.message


def _redirecting_robots(hops: int) -> dict:
    text = {
        "status": 200,
        "headers": [["Content-Type", "text/plain"]],
        "body": "User-agent: GPTBot\nDisallow: /\n",
    }
    routes = {
        "/": {
            "status": 200,
            "headers": [["Content-Type", "text/html"]],
            "body": "<html><title>home</title><body>home page</body></html>",
        },
        "/robots-final.txt": text,
    }
    chain = ["/robots.txt"] + [f"/hop/{i}" for i in range(1, hops)] + ["/robots-final.txt"]
    for source, target in zip(chain, chain[1:], strict=False):
        routes[source] = {"status": 301, "headers": [["Location", target]], "body": ""}
    return {
        "description": f"robots.txt behind {hops} redirects",
        "routes": routes,
        "prefix_routes": {},
        "fallback": {"status": 404, "headers": [["Content-Type", "text/html"]], "body": "<html>404</html>"},
        "rate_limit": None,
        "headers": [],
        "cookies": [],
    }


def test_robots_txt_is_followed_through_five_redirects(fixture_site, local_policy):
    report = scan(fixture_site, _redirecting_robots(5), local_policy)
    robots = report["policy"]["robots_txt"]
    assert robots["access"] == "parsed" and robots["ai_agents"]["GPTBot"] == "disallowed"


def test_robots_txt_beyond_five_redirects_is_unavailable(fixture_site, local_policy):
    report = scan(fixture_site, _redirecting_robots(6), local_policy)
    robots = report["policy"]["robots_txt"]
    # RFC 9309 2.3.1.2: not reached within five redirects → unavailable, i.e. no restrictions
    assert robots["access"] == "unavailable" and robots["effect"] == "allow_all"
    assert robots["ai_agents"]["GPTBot"] == "unspecified"
