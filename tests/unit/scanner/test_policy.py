"""Policy analysis: robots.txt per RFC 9309 (protego), managed sections, content signals and the
other AI-policy files."""

from __future__ import annotations

from botscope.scanner.observe import build_observation
from botscope.scanner.policy import (
    ai_agent_tokens,
    ai_agents,
    analyze_ai_txt,
    analyze_llms_txt,
    analyze_policy,
    analyze_robots,
    analyze_tdmrep,
    analyze_web_bot_auth,
    merge_content_usage,
    named_agents,
    parse_content_usage,
)

from tests.fixtures.site.pages import CLOUDFLARE_MANAGED_ROBOTS_BLOCK
from tests.unit.scanner._helpers import fetch_result, spec

TEXT = {"content-type": "text/plain; charset=utf-8"}
HTML = {"content-type": "text/html"}

CF_MANAGED = (
    """# As a condition of accessing this website, you agree to abide by the following content signals:
"""
    + CLOUDFLARE_MANAGED_ROBOTS_BLOCK
    + """
User-agent: GPTBot
Allow: /

User-agent: *
Disallow: /admin/
"""
)


def test_ai_agent_list_is_data_with_operator_function_respect() -> None:
    agents = ai_agents()
    assert len(agents) == 166
    gptbot = next(a for a in agents if a["token"] == "GPTBot")
    assert gptbot["respect"] == "Yes" and "OpenAI" in gptbot["operator"]
    assert {"token", "operator", "function", "respect"} <= set(agents[0])


def test_no_robots_is_unspecified_for_every_agent() -> None:
    robots = analyze_robots(None)
    assert robots["present"] is False
    assert set(robots["ai_agents"].values()) == {"unspecified"}
    assert len(robots["ai_agents"]) == len(ai_agent_tokens())


def test_own_group_else_star_group() -> None:
    text = "User-agent: GPTBot\nDisallow: /\n\nUser-agent: ClaudeBot\nDisallow: /private/\n\nUser-agent: *\nAllow: /\n"
    agents = analyze_robots(text)["ai_agents"]
    assert agents["GPTBot"] == "disallowed"
    assert agents["ClaudeBot"] == "partial"
    assert agents["CCBot"] == "allowed"  # falls back to *


def test_star_group_applies_to_unnamed_agents() -> None:
    agents = analyze_robots("User-agent: *\nDisallow: /\n")["ai_agents"]
    assert set(agents.values()) == {"disallowed"}


def test_partial_when_root_allowed_but_some_paths_disallowed() -> None:
    agents = analyze_robots("User-agent: *\nDisallow: /search\nDisallow: /*.pdf$\n")["ai_agents"]
    assert agents["GPTBot"] == "partial"


def test_own_group_overrides_star_even_if_more_permissive() -> None:
    agents = analyze_robots("User-agent: *\nDisallow: /\n\nUser-agent: PerplexityBot\nAllow: /\n")[
        "ai_agents"
    ]
    assert agents["PerplexityBot"] == "allowed" and agents["GPTBot"] == "disallowed"


def test_empty_disallow_means_allowed() -> None:
    assert analyze_robots("User-agent: *\nDisallow:\n")["ai_agents"]["GPTBot"] == "allowed"


def test_named_agents_lists_tokens_in_file_order() -> None:
    text = "User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    assert named_agents(text) == ["GPTBot", "CCBot"]


def test_cloudflare_managed_section_signals_and_conflict() -> None:
    robots = analyze_robots(CF_MANAGED)
    assert robots["managed_by"] == "cloudflare"
    assert "CloudflareBrowserRenderingCrawler" in robots["managed_disallowed"]
    assert robots["content_signals"] == {"search": "yes", "ai-train": "no"}
    # the site's own group allows GPTBot the managed block disallows: a conflict
    assert robots["conflicts"] == ["GPTBot"]
    assert robots["ai_agents"]["ClaudeBot"] == "disallowed"
    assert robots["ai_agents"]["PerplexityBot"] == "partial"  # * group: /admin/ disallowed


def test_content_signal_keeps_the_vocabulary_and_reports_the_rest_as_invalid() -> None:
    robots = analyze_robots(
        "User-agent: *\nContent-Signal: search=yes, ai-input=yes, ai-train=no, use=reference\nAllow: /\n"
    )
    assert robots["content_signals"] == {"search": "yes", "ai-input": "yes", "ai-train": "no"}
    assert robots["content_signals_invalid"] == ["use=reference"]
    # a value outside yes/no is invalid too, and site-controlled text is reduced to inert characters
    odd = analyze_robots("User-agent: *\nContent-Signal: ai-train=maybe, <script>=1\n")
    assert odd["content_signals"] is None
    assert odd["content_signals_invalid"] == ["ai-train=maybe", "?script?=1"]


def test_content_usage_lines_and_disallow_wins() -> None:
    robots = analyze_robots("User-agent: *\nContent-Usage: train-ai=y, search=y\nContent-Usage: train-ai=n\n")
    merged = merge_content_usage([parse_content_usage(statement) for _, statement in robots["content_usage"]])
    assert merged == {"train-ai": "n", "search": "y"}
    assert merge_content_usage([{"train-ai": "n"}, {"train-ai": "y"}]) == {"train-ai": "n"}


def test_llms_txt_format() -> None:
    text = "# Project\n\n> Short summary.\n\nSome notes.\n\n## Docs\n\n- [Intro](https://x.test/intro.md): start\n\n## Optional\n\n- [More](https://x.test/more.md)\n"
    llms = analyze_llms_txt(text)
    assert llms["present"] is True
    assert llms["format"]["h1"] and llms["format"]["blockquote"]
    assert llms["format"]["sections"] == ["Docs", "Optional"] and llms["format"]["links"] == 2
    assert analyze_llms_txt("")["present"] is False
    # llmstxt.org: the file starts with a "# " title, else it is not an llms.txt
    assert analyze_llms_txt("no heading here") == {"present": False, "rejected": "no_title"}
    assert analyze_llms_txt(text, "application/json") == {"present": False, "rejected": "content_type"}


def test_ai_txt_spawning_syntax() -> None:
    text = "# Spawning AI\n# Prevent datasets from using the following file types\n\nUser-Agent: *\nDisallow: *.jpg\nDisallow: *.txt\nDisallow: /\n"
    ai = analyze_ai_txt(text)
    assert ai == {"present": True, "format": "robots", "disallow_all": True, "disallow_rules": 3}
    assert analyze_ai_txt(None)["present"] is False


def test_ai_txt_sectioned_and_prose_forms_are_present_without_rules() -> None:
    sectioned = analyze_ai_txt("[permissions]\n- Summarise content\n[attribution]\nrequired: true\n")
    assert sectioned == {"present": True, "format": "sectioned", "disallow_all": None, "disallow_rules": 0}
    prose = analyze_ai_txt("# Guidelines\nThis content may be used for AI training with attribution.\n")
    assert prose["present"] is True and prose["format"] == "prose" and prose["disallow_all"] is None
    # plain text that says nothing to AI systems is not an ai.txt
    assert analyze_ai_txt("Hello world\nnothing here\n") == {"present": False, "rejected": "format"}
    assert analyze_ai_txt("[permissions]\nrequired: true\n", "application/json")["rejected"] == "content_type"


def test_tdmrep_header_and_file() -> None:
    assert analyze_tdmrep(None, ["1"])["reserved"] is True
    file_text = '[{"location": "/*", "tdm-reservation": 1, "tdm-policy": "https://example.test/policy.json"}]'
    tdm = analyze_tdmrep(file_text, [])
    assert tdm["present"] and tdm["reserved"] and tdm["policy_present"] and tdm["file_present"]
    assert analyze_tdmrep('[{"location": "/", "tdm-reservation": 0}]', [])["reserved"] is False
    assert analyze_tdmrep("not json", [])["present"] is False


def test_web_bot_auth_directory_and_placeholder() -> None:
    jwks = '{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"}]}'
    media = "application/http-message-signatures-directory+json"
    found = analyze_web_bot_auth(jwks, media)
    assert (found["directory_present"], found["key_count"], found["placeholder"]) == (True, 1, False)
    # the key has no kid, so it is not its RFC 7638 thumbprint; no signature is published
    assert (
        found["valid_keys"] == 0
        and "kid_not_thumbprint" in found["issues"]
        and found["signature"] == "absent"
    )
    empty = analyze_web_bot_auth('{"keys": []}', media)
    assert (empty["directory_present"], empty["key_count"], empty["placeholder"]) == (False, 0, True)
    assert analyze_web_bot_auth("<html>", "text/html")["directory_present"] is False
    assert analyze_web_bot_auth(jwks, "text/plain")["rejected"] == "content_type"


def _obs(path, status=200, headers=TEXT, body="", profile="browser"):
    return build_observation(spec(path, profile), fetch_result(status, headers, body, path=path))


def test_analyze_policy_from_observations() -> None:
    observations = [
        _obs(
            "/",
            200,
            {
                **HTML,
                "x-robots-tag": "noai, noimageai",
                "content-usage": "train-ai=n",
                "tdm-reservation": "1",
            },
            "<html><head><title>x</title></head><body>hi</body></html>",
        ),
        _obs("/robots.txt", body="User-agent: GPTBot\nDisallow: /\n"),
        _obs("/llms.txt", body="# Site\n> summary\n"),
        _obs("/ai.txt", 404, HTML, "<html>nope</html>"),
        _obs("/.well-known/tdmrep.json", 404, HTML, ""),
        _obs(
            "/.well-known/http-message-signatures-directory",
            200,
            {"content-type": "application/http-message-signatures-directory+json"},
            '{"keys": []}',
        ),
        _obs("/", 402, {**HTML, "crawler-price": "USD 0.01"}, "", profile="ai_crawler"),
    ]
    policy = analyze_policy(observations)
    assert policy["robots_txt"]["present"] and policy["robots_txt"]["ai_agents"]["GPTBot"] == "disallowed"
    assert policy["robots_txt"]["named_agents"] == ["GPTBot"]
    assert policy["llms_txt"]["present"] and not policy["ai_txt"]["present"]
    assert policy["noai_meta"] == {"noai": True, "noimageai": True}
    assert policy["content_usage"] == {"train-ai": "n"}
    assert policy["tdmrep"]["reserved"] and policy["tdmrep"]["header_present"]
    assert policy["web_bot_auth"]["placeholder"] and not policy["web_bot_auth"]["directory_present"]
    assert policy["pay_per_crawl"] == {
        "detected": True,
        "paths": ["/"],
        "profiles": ["ai_crawler"],
        "price_well_formed": True,
        "status_402_without_price": [],
    }


def test_html_robots_txt_counts_as_absent() -> None:
    observations = [
        _obs("/robots.txt", 200, HTML, "<!DOCTYPE html><html><title>Just a moment...</title></html>")
    ]
    robots = analyze_policy(observations)["robots_txt"]
    assert robots["present"] is False
    assert set(robots["ai_agents"].values()) == {"unspecified"}
    assert robots["outcome"] == "served"


def test_challenged_robots_txt_counts_as_absent_and_says_why() -> None:
    observations = [
        _obs("/robots.txt", 403, {**HTML, "cf-mitigated": "challenge"}, "<title>Just a moment...</title>")
    ]
    robots = analyze_policy(observations)["robots_txt"]
    assert robots["present"] is False and robots["outcome"] == "challenged"


def test_named_agents_stay_bounded_whatever_the_file_names():
    from botscope.scanner.policy import MAX_AGENT_TOKEN_CHARS, MAX_NAMED_AGENTS, named_agents

    text = "".join(f"User-agent: Bot{i}{'x' * 300}\nDisallow: /\n\n" for i in range(5000))
    names = named_agents(text)
    assert len(names) == MAX_NAMED_AGENTS
    assert all(len(n) <= MAX_AGENT_TOKEN_CHARS for n in names)
    assert names[0].startswith("Bot0")
