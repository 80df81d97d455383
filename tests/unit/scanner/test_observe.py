"""build_observation: features, cookie names, header allow-list, outcome and policy text."""

from __future__ import annotations

from botscope.scanner.model import ProbeError
from botscope.scanner.observe import (
    POLICY_TEXT_LIMIT,
    build_observation,
    shingle_similarity,
    text_shingles,
)

from tests.unit.scanner._helpers import CANARY_COOKIE_VALUE, fetch_result, spec

HTML = {"content-type": "text/html; charset=utf-8"}


def observe(status=200, headers=None, body="", set_cookie=(), path="/", profile="browser", **extra):
    return build_observation(
        spec(path, profile), fetch_result(status, headers or HTML, body, set_cookie, path=path, **extra)
    )


def test_cookie_names_only_never_values() -> None:
    obs = observe(set_cookie=["__cf_bm", "session"])
    assert obs.cookie_names == ["__cf_bm", "session"]
    assert CANARY_COOKIE_VALUE not in obs.model_dump_json()


def test_only_allow_listed_header_values_are_kept() -> None:
    obs = observe(
        headers={**HTML, "server": "cloudflare", "x-secret-token": "TOKENVALUE", "cf-mitigated": "challenge"}
    )
    assert obs.headers["server"] == "cloudflare"
    assert "x-secret-token" in obs.header_names
    assert "x-secret-token" not in obs.headers
    assert "TOKENVALUE" not in obs.model_dump_json()


def test_page_features_are_extracted() -> None:
    body = (
        '<html><head><title>  Sign   in </title><meta name="robots" content="noindex, NoAI">'
        '<script src="https://js.example-cdn.com/app.js"></script></head><body>'
        '<a href="/account">Account</a><a href="https://example.test/search?q=1">Search</a>'
        '<a href="https://other.test/x">elsewhere</a>'
        '<a href="/trap/1" rel="nofollow" style="display:none">x</a>'
        '<a href="/trap/2" rel="nofollow" hidden>y</a>'
        '<iframe src="//frames.example.org/f"></iframe>'
        '<form action="/login" method="post"></form><form action="https://other.test/p"></form></body></html>'
    )
    obs = observe(body=body)
    assert obs.title == "Sign in"
    assert obs.meta_robots == ["noindex", "noai"]
    assert obs.script_hosts == ["js.example-cdn.com"]
    assert obs.iframe_hosts == ["frames.example.org"]
    assert obs.form_count == 2 and obs.form_actions == ["/login"]
    assert "/account" in obs.links and "/search?q=1" in obs.links
    assert all(not link.startswith("http") for link in obs.links)
    assert obs.hidden_nofollow_links == 2
    assert obs.body_sha256 and obs.body_size == len(body.encode())


def test_challenge_403_is_challenged() -> None:
    obs = observe(
        403,
        {**HTML, "cf-mitigated": "challenge", "server": "cloudflare"},
        "<html><head><title>Just a moment...</title></head><body></body></html>",
    )
    assert obs.outcome == "challenged"
    assert any(m.rule_id == "cloudflare.challenge" and m.active for m in obs.matches)


def test_captcha_widget_on_login_form_is_served_with_captcha_match() -> None:
    body = (
        '<html><head><title>Login</title><script src="https://www.google.com/recaptcha/api.js"></script></head>'
        '<body><form action="/login"><div class="g-recaptcha" data-sitekey="k"></div></form></body></html>'
    )
    obs = observe(200, HTML, body, path="/login")
    assert obs.outcome == "served"
    assert [(m.vendor, m.measure, m.active) for m in obs.matches] == [("recaptcha", "captcha", False)]


def test_anubis_401_is_challenged() -> None:
    obs = observe(
        401,
        HTML,
        "<html><head><title>Making sure you're not a bot!</title></head><body>"
        '<script id="anubis_challenge" type="application/json">{}</script></body></html>',
    )
    assert obs.outcome == "challenged"


def test_aws_waf_405_captcha_is_challenged() -> None:
    obs = observe(405, {**HTML, "x-amzn-waf-action": "captcha"}, "")
    assert obs.outcome == "challenged"
    assert obs.headers["x-amzn-waf-action"] == "captcha"


def test_429_is_rate_limited_unless_a_challenge() -> None:
    assert observe(429, {**HTML, "retry-after": "10"}, "<p>slow down</p>").outcome == "rate_limited"
    vercel = observe(
        429, {**HTML, "x-vercel-mitigated": "challenge"}, "<title>Vercel Security Checkpoint</title>"
    )
    assert vercel.outcome == "challenged"
    assert "generic.rate_limited" not in {m.rule_id for m in vercel.matches}


def test_linkedin_999_is_blocked() -> None:
    assert observe(999, HTML, "").outcome == "blocked"


def test_status_only_outcomes() -> None:
    assert observe(404, HTML, "<p>missing</p>").outcome == "not_found"
    assert observe(301, {**HTML, "location": "/new"}, "").outcome == "redirected"
    assert observe(403, HTML, "<p>forbidden</p>").outcome == "blocked"
    assert observe(502, HTML, "<p>bad gateway</p>").outcome == "error"
    assert observe(200, HTML, "<p>ok</p>").outcome == "served"


def test_failed_fetch_is_an_error_observation() -> None:
    from botscope.scanner.model import FetchResult

    fetch = FetchResult(
        url="https://example.test/",
        status=None,
        error=ProbeError(code="connection_failed", message="refused"),
    )
    obs = build_observation(spec("/"), fetch)
    assert obs.outcome == "error" and obs.error.code == "connection_failed" and obs.matches == []


def test_a_stalled_answer_is_timed_out_never_served_and_lasts_until_its_last_byte() -> None:
    from botscope.scanner.model import FetchResult

    # headers and a first chunk arrived, then the body stalled until the fetch deadline
    fetch = FetchResult(
        url="https://example.test/",
        status=200,
        headers=[("content-type", "text/html")],
        body=b"<html><title>Welcome</title>",
        ttfb_ms=40,
        last_byte_ms=900,
        duration_ms=20_000,
        error=ProbeError(code="timeout", message="no complete answer within 20 s"),
    )
    obs = build_observation(spec("/"), fetch)
    assert obs.outcome == "timed_out" and obs.http_status == 200
    assert obs.duration_ms == 900 and obs.title is None and obs.matches == []
    # no header at all before the deadline: timed out as well, and its duration ends at nothing read
    silent = build_observation(
        spec("/"),
        FetchResult(
            url="https://example.test/", duration_ms=20_000, error=ProbeError(code="timeout", message="t")
        ),
    )
    assert silent.outcome == "timed_out" and silent.duration_ms == 20_000


def test_policy_text_for_a_real_policy_file() -> None:
    text = "User-agent: GPTBot\nDisallow: /\n"
    obs = observe(200, {"content-type": "text/plain"}, text, path="/robots.txt")
    assert obs.policy_text == text


def test_policy_file_served_as_html_is_not_a_policy_file() -> None:
    obs = observe(200, HTML, "<!DOCTYPE html><html><body>User-agent: *</body></html>", path="/robots.txt")
    assert obs.outcome == "served" and obs.policy_text is None
    sniffed = observe(
        200, {"content-type": "text/plain"}, "<html><body>oops</body></html>", path="/robots.txt"
    )
    assert sniffed.policy_text is None


def test_challenged_policy_file_has_no_policy_text() -> None:
    obs = observe(403, {**HTML, "cf-mitigated": "challenge"}, "User-agent: *", path="/robots.txt")
    assert obs.outcome == "challenged" and obs.policy_text is None


def test_policy_text_is_bounded() -> None:
    text = "# " + "x" * (POLICY_TEXT_LIMIT + 1000)
    obs = observe(200, {"content-type": "text/plain"}, text, path="/llms.txt")
    assert obs.policy_text is not None and len(obs.policy_text) == POLICY_TEXT_LIMIT


def test_page_policy_kind_never_keeps_text() -> None:
    obs = observe(200, {"content-type": "text/plain"}, "hello world", path="/notes.txt")
    assert obs.policy_text is None


def test_text_shingles_tell_same_from_different() -> None:
    a = text_shingles("the quick brown fox jumps over the lazy dog " * 20 + "alpha beta gamma delta")
    b = text_shingles("the quick brown fox jumps over the lazy dog " * 20 + "alpha beta gamma delta")
    c = text_shingles("completely unrelated markov babble words flow into endless random pages here " * 5)
    assert shingle_similarity(a, b) == 1.0
    assert shingle_similarity(a, c) < 0.2


def test_truncated_broken_html_still_yields_title_and_robots_meta() -> None:
    body = '<html><head><script>var x = \'<title>\' [...] <title>Art page</title><meta name="robots" content="noimageai"/>'
    obs = observe(200, HTML, body)
    assert obs.title and "art page" in obs.title.lower()
    assert "noimageai" in obs.meta_robots


def test_link_query_tokens_are_redacted() -> None:
    body = (
        '<html><body><a href="/reset?token=SECRETRESETTOKEN&lang=en">r</a>'
        '<a href="/index.php?route=account/login">l</a>'
        '<form action="/login?next=/a&sig=abcdef"></form></body></html>'
    )
    obs = observe(body=body)
    assert "/reset?token=redacted&lang=en" in obs.links
    assert "/index.php?route=account/login" in obs.links
    assert obs.form_actions == ["/login?next=/a&sig=redacted"]
    assert "SECRETRESETTOKEN" not in obs.model_dump_json()


def test_plain_text_policy_file_naming_vendors_fires_no_body_rule() -> None:
    text = (
        "# is-antibot\n> Detects Cloudflare (cf-mitigated, window._cf_chl_opt), DataDome (geo.captcha-delivery.com),"
        " reCAPTCHA (google.com/recaptcha/api.js), Incapsula incident ID, px-captcha and Anubis.\n"
    )
    obs = observe(200, {"content-type": "text/plain"}, text, path="/llms.txt")
    assert obs.matches == [] and obs.outcome == "served" and obs.policy_text == text


def test_final_path_only_for_same_origin_redirects() -> None:
    same = observe(200, HTML, "<p>x</p>", final_url="https://example.test/en/home?x=1")
    assert same.final_path == "/en/home?x=1"
    other = observe(200, HTML, "<p>x</p>", final_url="https://elsewhere.test/landing")
    assert other.final_path is None


def test_garbage_bodies_never_raise() -> None:
    import random

    rng = random.Random(5)
    for content_type in ("text/html", "text/plain", "application/json", None):
        for _ in range(5):
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000)))
            headers = {"content-type": content_type} if content_type else {}
            for path in ("/", "/robots.txt"):
                obs = observe(200, headers or {"x-empty": "1"}, body, path=path)
                assert obs.outcome == "served"
