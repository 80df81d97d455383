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
    assert set(PROFILE_IDS) == {"browser", "ai_crawler", "ai_agent", "http_client"}  # every plan's
    assert set(profiles) == set(PROFILE_IDS) | {"signed_agent"}
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", PROFILES_VERSION)
    for profile in profiles.values():
        assert profile.version and profile.description and profile.robots_token
        names = [name.lower() for name, _ in profile.headers]
        assert len(names) == len(set(names)), f"{profile.id}: duplicate header"
        assert "host" not in names and "cookie" not in names


def test_browser_profile_looks_like_a_desktop_chrome_navigation():
    browser = get_profile("browser")
    names = [name.lower() for name, _ in browser.headers]
    for required in (
        "sec-ch-ua",
        "sec-ch-ua-mobile",
        "sec-ch-ua-platform",
        "upgrade-insecure-requests",
        "user-agent",
        "accept",
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-user",
        "sec-fetch-dest",
        "accept-encoding",
        "accept-language",
    ):
        assert required in names
    assert names.index("sec-ch-ua") < names.index("user-agent") < names.index("sec-fetch-site")
    version = re.search(r"Chrome/(\d+)", browser.user_agent).group(1)
    assert f'v="{version}"' in dict(browser.headers)["sec-ch-ua"]
    assert "BotScope" not in browser.user_agent


def test_non_browser_profiles_declare_botscope_with_a_contact_url():
    for profile_id in ("ai_crawler", "ai_agent", "http_client", "signed_agent"):
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
    # httpcore profiles are decoded by the fetcher (gzip, deflate); curl decodes what it offers.
    decodable = {"httpcore": {"gzip", "deflate"}, "curl_cffi": {"gzip", "deflate", "br", "zstd"}}
    for profile_id in PROFILE_IDS:
        profile = get_profile(profile_id)
        encodings = {
            e.strip() for e in dict((n.lower(), v) for n, v in profile.headers)["accept-encoding"].split(",")
        }
        assert encodings <= decodable[profile.client]


def test_browser_profile_names_one_chrome_version_everywhere():
    """The impersonation target, the declared version, the User-Agent and every client hint name
    the same Chrome major version (a newer TLS hello under an older User-Agent is a bot signal)."""
    browser = get_profile("browser")
    assert browser.client == "curl_cffi" and browser.http2 is True
    assert browser.impersonate is not None and browser.browser_version is not None
    target_version = re.fullmatch(r"chrome(\d+)", browser.impersonate)
    assert target_version is not None, "the browser profile impersonates a desktop Chrome target"
    version = target_version.group(1)
    assert browser.browser_version == version
    assert browser.version == f"chrome-{version}-windows"
    assert f"Chrome/{version}.0.0.0 " in browser.user_agent
    hints = dict((n.lower(), v) for n, v in browser.headers)["sec-ch-ua"]
    brands = dict(re.findall(r'"([^"]+)";v="(\d+)"', hints))
    assert brands["Google Chrome"] == brands["Chromium"] == version


def test_browser_profile_headers_are_the_impersonation_targets_own():
    """What curl_cffi's target sends by default (recorded on a loopback server) is exactly the
    profile's header set, in order; only Connection (an HTTP/1.1 header) is ours."""
    from tests.helpers.wire_recorder import default_headers_of

    browser = get_profile("browser")
    assert browser.impersonate is not None
    theirs = [(n.lower(), v) for n, v in default_headers_of(browser.impersonate)]
    ours = [(n.lower(), v) for n, v in browser.headers if n.lower() != "connection"]
    assert ours == theirs


def test_curl_profiles_use_a_target_this_curl_cffi_offers():
    from curl_cffi.requests.impersonate import BrowserType

    offered = {member.value for member in BrowserType}
    for profile in load_profiles().values():
        if profile.client == "curl_cffi":
            assert profile.impersonate in offered


def test_ai_profiles_say_their_tokens_are_unverified_and_from_botscopes_address():
    for profile_id in AI_PROFILE_IDS:
        basis = get_profile(profile_id).basis
        assert basis is not None
        assert "unverified declared token" in basis and "BotScope's own address" in basis
        assert get_profile(profile_id).agent_token in basis
