"""Client profiles are well-formed data with the guarantees of docs/report.md "Client profiles and path runs"."""

from __future__ import annotations

import re

from botscope.scanner.profiles import (
    AI_PROFILE_IDS,
    PROFILE_IDS,
    PROFILES_VERSION,
    get_profile,
    load_profiles,
)


def test_every_profile_is_defined_once_with_a_version():
    profiles = load_profiles()
    assert set(profiles) == set(PROFILE_IDS) == {"browser", "ai_crawler", "ai_agent", "http_client"}
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", PROFILES_VERSION)
    for profile in profiles.values():
        assert profile.version and profile.description and profile.robots_token
        names = [name.lower() for name, _ in profile.headers]
        assert len(names) == len(set(names)), f"{profile.id}: duplicate header"
        assert "host" not in names and "cookie" not in names


def test_browser_profile_looks_like_a_desktop_chrome_navigation():
    browser = get_profile("browser")
    names = [name.lower() for name, _ in browser.headers]
    for required in ("sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "upgrade-insecure-requests",
                     "user-agent", "accept", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-user",
                     "sec-fetch-dest", "accept-encoding", "accept-language"):
        assert required in names
    assert names.index("sec-ch-ua") < names.index("user-agent") < names.index("sec-fetch-site")
    version = re.search(r"Chrome/(\d+)", browser.user_agent).group(1)
    assert f'v="{version}"' in dict(browser.headers)["sec-ch-ua"]
    assert "BotScope" not in browser.user_agent


def test_non_browser_profiles_declare_botscope_with_a_contact_url():
    for profile_id in ("ai_crawler", "ai_agent", "http_client"):
        ua = get_profile(profile_id).user_agent
        assert "BotScopeAudit/" in ua and "https://botscope.dev/bot" in ua


def test_ai_profiles_carry_their_agent_token_but_not_the_real_agents_string():
    assert get_profile("ai_crawler").robots_token == "GPTBot"
    assert get_profile("ai_agent").robots_token == "ChatGPT-User"
    for profile_id in AI_PROFILE_IDS:
        profile = get_profile(profile_id)
        assert profile.agent_token in profile.user_agent
        assert "openai.com" not in profile.user_agent


def test_only_decodable_encodings_are_offered():
    for profile_id in PROFILE_IDS:
        encodings = {e.strip() for e in dict((n.lower(), v) for n, v in get_profile(profile_id).headers)
                     ["accept-encoding"].split(",")}
        assert encodings <= {"gzip", "deflate"}
