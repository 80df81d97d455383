"""Enforcement verdicts (declared vs observed per AI profile and path), coverage, detections."""

from __future__ import annotations

from botscope.scanner import analysis
from botscope.scanner.observe import build_observation
from botscope.scanner.profiles import get_profile

from tests.unit.scanner._helpers import fetch_result, spec

HTML = {"content-type": "text/html"}
PAGE = (
    "<html><head><title>Shop</title></head><body><h1>Welcome</h1><p>"
    + "Fresh products every day shipped worldwide with care and attention to detail. " * 10
    + "</p></body></html>"
)
BABBLE = (
    "<html><head><title>Shop</title></head><body><p>"
    + "".join(f"word{i} token{i * 7} phrase{i * 13} drift{i * 3} " for i in range(120))
    + "</p></body></html>"
)
BLOCK = "<html><head><title>Forbidden</title></head><body>no</body></html>"
CHALLENGE = "<html><head><title>Just a moment...</title></head><body><script>window._cf_chl_opt={}</script></body></html>"


def obs(path, profile, status=200, body=PAGE, headers=HTML, critical=False, category=None):
    return build_observation(
        spec(path, profile, critical=critical, category=category),
        fetch_result(status, headers, body, path=path),
    )


def verdicts(observations, robots):
    return {(e["agent_profile"], e["path"]): e["verdict"] for e in analysis.enforcement(observations, robots)}


def test_enforced_when_disallowed_and_blocked() -> None:
    runs = [obs("/", "browser"), obs("/", "ai_crawler", 403, BLOCK)]
    entry = analysis.enforcement(runs, "User-agent: GPTBot\nDisallow: /\n")[0]
    assert entry == {
        "agent_profile": "ai_crawler",
        "robots_token": "GPTBot",
        "path": "/",
        "declared": "disallowed",
        "observed": "blocked",
        "baseline": "served",
        "verdict": "enforced",
        "basis": get_profile("ai_crawler").basis,
    }
    assert "unverified declared token" in entry["basis"]


def test_declared_not_enforced_when_served_same_content() -> None:
    runs = [obs("/", "browser"), obs("/", "ai_crawler")]
    assert verdicts(runs, "User-agent: GPTBot\nDisallow: /\n")[("ai_crawler", "/")] == "declared_not_enforced"


def test_undeclared_block() -> None:
    runs = [obs("/", "browser"), obs("/", "ai_agent", 403, BLOCK)]
    assert verdicts(runs, None)[("ai_agent", "/")] == "undeclared_block"
    assert verdicts(runs, "User-agent: *\nAllow: /\n")[("ai_agent", "/")] == "undeclared_block"


def test_differential_content_possible_tarpit() -> None:
    runs = [obs("/", "browser"), obs("/", "ai_crawler", body=BABBLE)]
    entries = analysis.enforcement(runs, None)
    assert entries[0]["verdict"] == "differential_content"
    assert entries[0]["observed"] == "served_different"


def test_hidden_nofollow_links_for_ai_are_differential() -> None:
    labyrinth = PAGE.replace(
        "</body>",
        "".join(f'<a href="/l/{i}" rel="nofollow" style="display:none">x</a>' for i in range(8)) + "</body>",
    )
    runs = [obs("/", "browser"), obs("/", "ai_crawler", body=labyrinth)]
    assert verdicts(runs, None)[("ai_crawler", "/")] == "differential_content"
    assert analysis.labyrinth_signals(runs)


def test_browser_challenged_is_strict_or_inconclusive() -> None:
    runs = [
        obs("/", "browser", 403, CHALLENGE, {**HTML, "cf-mitigated": "challenge"}),
        obs("/", "ai_crawler", 403, CHALLENGE),
    ]
    assert verdicts(runs, "User-agent: GPTBot\nDisallow: /\n")[("ai_crawler", "/")] == "browser_challenged"


def test_consistent_when_nothing_declared_and_served_alike() -> None:
    runs = [obs("/", "browser"), obs("/", "http_client")]
    assert verdicts(runs, None)[("http_client", "/")] == "consistent"


def test_declared_uses_the_path_not_just_root() -> None:
    runs = [obs("/private/x", "browser"), obs("/private/x", "ai_crawler")]
    robots = "User-agent: *\nDisallow: /private/\n"
    entry = analysis.enforcement(runs, robots)[0]
    assert entry["declared"] == "disallowed" and entry["verdict"] == "declared_not_enforced"


def test_coverage_of_critical_paths() -> None:
    widget = PAGE.replace("</body>", '<div class="g-recaptcha" data-sitekey="k"></div></body>')
    runs = [
        obs("/", "browser", category="target"),
        obs("/login", "browser", body=widget, critical=True, category="login"),
        obs("/signup", "browser", critical=True, category="signup"),
        obs("/signup", "ai_crawler", 403, BLOCK, critical=True, category="signup"),
        obs("/account", "browser", critical=True, category="account"),
    ]
    cov = analysis.coverage(runs)
    by_path = {e["path"]: e for e in cov["critical_paths"]}
    assert by_path["/login"]["measures"] == ["captcha"] and by_path["/login"]["vendors"] == ["recaptcha"]
    assert by_path["/signup"]["stopped_profiles"] == ["ai_crawler"]
    assert cov["unprotected_paths"] == ["/", "/account"]


def test_detections_aggregate_across_runs() -> None:
    headers = {**HTML, "server": "cloudflare", "cf-ray": "abc"}
    runs = [obs("/", "browser", headers=headers), obs("/login", "ai_crawler", headers=headers)]
    detections = analysis.aggregate_detections(runs)
    assert len(detections) == 1
    det = detections[0]
    assert det["vendor"] == "cloudflare" and det["measure"] == "cdn"
    assert det["paths"] == ["/", "/login"] and det["profiles"] == ["browser", "ai_crawler"]
    assert {"signal": "header", "name": "cf-ray"} in det["evidence"]


def test_short_dynamic_text_is_not_differential() -> None:
    shell_a = "<html><head><title>App</title></head><body><div id=root>Loading 1234</div></body></html>"
    shell_b = "<html><head><title>App</title></head><body><div id=root>Loading 9876</div></body></html>"
    runs = [obs("/", "browser", body=shell_a), obs("/", "ai_agent", body=shell_b)]
    assert verdicts(runs, None)[("ai_agent", "/")] == "consistent"


def test_dynamic_tokens_in_long_text_are_not_differential() -> None:
    other = PAGE.replace("<h1>Welcome</h1>", "<h1>Welcome</h1><p>csrf 8f7e6d request id 42</p>")
    runs = [obs("/", "browser"), obs("/", "ai_agent", body=other)]
    assert verdicts(runs, None)[("ai_agent", "/")] == "consistent"


def test_plain_http_client_is_not_bound_by_robots_txt() -> None:
    runs = [obs("/cart", "browser"), obs("/cart", "http_client"), obs("/cart", "ai_crawler")]
    robots = "User-agent: *\nDisallow: /cart\n"
    found = verdicts(runs, robots)
    assert found[("http_client", "/cart")] == "consistent"
    assert found[("ai_crawler", "/cart")] == "declared_not_enforced"
