"""Policy checks to the current standards, on real published files (``tests/fixtures/policy/``,
provenance in its SOURCES.md): IETF aipref Content-Usage (RFC 9651 dictionary), Content-Signal
vocabulary, the Web Bot Auth key directory and its signature, llms.txt / llms-full.txt, TDMRep's
three channels, RFC 9309 robots.txt access, soft 404s and HTTP 402 pay per crawl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botscope.scanner.model import Observation, PathRunSpec, ProbeError
from botscope.scanner.observe import build_observation
from botscope.scanner.policy import (
    ROBOTS_PARSE_LIMIT,
    analyze_llms_txt,
    analyze_policy,
    analyze_robots,
    analyze_tdmrep,
    analyze_web_bot_auth,
    is_soft_404,
    jwk_thumbprint,
    parse_content_usage,
    robots_access,
)

from tests.unit.scanner._helpers import fetch_result, spec

POLICY_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "policy"
TEXT = {"content-type": "text/plain; charset=utf-8"}
HTML = {"content-type": "text/html; charset=utf-8"}
DIRECTORY_TYPE = "application/http-message-signatures-directory+json"
# The test vector's signature was made for this authority and is valid from 2025-01-01 to 2124.
VECTOR_AUTHORITY = "signature-agent.test"
VECTOR_NOW = 1_800_000_000


def fixture(name: str) -> str:
    return (POLICY_FIXTURES / name).read_text(encoding="utf-8")


def directory_vector() -> tuple[str, dict[str, str]]:
    vector = json.loads(fixture("cloudflare_web_bot_auth_directory_response_v1.json"))[0]
    headers = {name.lower(): value for name, value in vector["response"]["headers"].items()}
    return vector["response"]["body"], headers


def obs(
    path: str,
    status: int | None = 200,
    headers: dict[str, str] | None = None,
    body: str | bytes = "",
    profile: str = "browser",
    kind: str | None = None,
    **extra: object,
) -> Observation:
    run = spec(path, profile)
    if kind:
        run = PathRunSpec(path=path, profile=run.profile, kind=kind, category=run.category)  # type: ignore[arg-type]
    return build_observation(
        run, fetch_result(status, headers if headers is not None else TEXT, body, path=path, **extra)
    )


# --- IETF aipref Content-Usage ---------------------------------------------------------------------


def test_content_usage_from_the_aipref_robots_example_most_restrictive_wins() -> None:
    text = fixture("aipref_attach_robots_example.txt")
    robots = analyze_robots(text, ["ExampleBot"])
    # root rules of both groups, and one path-scoped rule
    assert robots["content_usage"] == [(None, "train-ai=n"), ("/ai-ok/", "train-ai=y"), (None, "train-ai=y")]
    policy = analyze_policy([obs("/robots.txt", body=text)])
    # train-ai=n and train-ai=y at the root: the most restrictive preference wins
    assert policy["content_usage"] == {"train-ai": "n"}
    assert policy["content_usage_detail"] == {
        "status": "declared",
        "sources": ["robots_txt"],
        "unparseable": 0,
        "path_scoped_rules": 1,
    }


def test_content_usage_header_is_a_structured_dictionary() -> None:
    # the aipref attachment draft's HTTP example: "Content-Usage: train-ai=n"
    page = obs("/", headers={**HTML, "content-usage": "train-ai=n"}, body="<html><title>x</title></html>")
    assert analyze_policy([page])["content_usage"] == {"train-ai": "n"}
    # unknown labels are ignored, known ones kept; parameters do not change the value
    assert parse_content_usage("train-ai=n;note=1, made-up=n, search=y") == {"train-ai": "n", "search": "y"}
    # a value that is not a y/n token carries no preference
    assert parse_content_usage('train-ai="n", search=?1') == {}


@pytest.mark.parametrize("broken", ["train-ai=n,,", "train-ai=", "train-ai=n; =", "=n", "train-ai==n"])
def test_a_content_usage_statement_that_does_not_parse_is_unknown(broken: str) -> None:
    assert parse_content_usage(broken) is None
    page = obs("/", headers={**HTML, "content-usage": broken}, body="<html><title>x</title></html>")
    policy = analyze_policy([page])
    assert policy["content_usage"] is None and policy["content_usage_detail"]["status"] == "unknown"


# --- Content-Signal ----------------------------------------------------------------------------------


def test_content_signal_of_a_real_cloudflare_managed_robots_txt() -> None:
    robots = analyze_robots(fixture("cloudflare_managed_allenpsychiatry_robots.txt"))
    assert robots["content_signals"] == {"search": "yes", "ai-train": "no"}
    assert robots["content_signals_invalid"] == []
    assert robots["managed_by"] == "cloudflare"


def test_content_signal_values_outside_the_vocabulary_are_reported_bounded() -> None:
    text = "User-agent: *\nContent-Signal: search=yes, ai-train=nope, " + "x" * 500 + "=yes\n"
    robots = analyze_robots(text)
    assert robots["content_signals"] == {"search": "yes"}
    assert robots["content_signals_invalid"][0] == "ai-train=nope"
    assert all(len(entry) <= 61 for entry in robots["content_signals_invalid"])


# --- Web Bot Auth key directory ----------------------------------------------------------------------


def test_the_real_signed_directory_validates() -> None:
    body, headers = directory_vector()
    found = analyze_web_bot_auth(body, DIRECTORY_TYPE, headers, authority=VECTOR_AUTHORITY, now=VECTOR_NOW)
    assert found == {
        "directory_present": True,
        "key_count": 1,
        "placeholder": False,
        "valid_keys": 1,
        "media_type_valid": True,
        "signature": "valid",
        "issues": [],
    }
    key = json.loads(body)["keys"][0]
    assert jwk_thumbprint(key) == key["kid"] == "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"


def test_a_directory_signature_for_another_authority_or_a_tampered_body_fails() -> None:
    body, headers = directory_vector()
    other = analyze_web_bot_auth(body, DIRECTORY_TYPE, headers, authority="elsewhere.test", now=VECTOR_NOW)
    assert other["signature"] == "invalid"
    tampered_body = body.replace('"use":"sig"', '"use":"enc"')
    tampered = analyze_web_bot_auth(
        tampered_body, DIRECTORY_TYPE, headers, authority=VECTOR_AUTHORITY, now=VECTOR_NOW
    )
    assert tampered["signature"] == "digest_mismatch"


def test_directory_validity_times_and_kid() -> None:
    body, headers = directory_vector()
    before = analyze_web_bot_auth(
        body, DIRECTORY_TYPE, headers, authority=VECTOR_AUTHORITY, now=1_700_000_000
    )
    assert before["signature"] == "expired"  # created 2025-01-01: not yet valid in 2023
    key = json.loads(body)["keys"][0]
    stale = json.dumps({"keys": [{**key, "exp": VECTOR_NOW - 1}]})
    found = analyze_web_bot_auth(stale, DIRECTORY_TYPE, {}, now=VECTOR_NOW)
    assert "key_expired" in found["issues"] and found["valid_keys"] == 0 and found["signature"] == "absent"
    wrong_kid = json.dumps({"keys": [{**key, "kid": "my-key-1"}]})
    assert (
        "kid_not_thumbprint" in analyze_web_bot_auth(wrong_kid, DIRECTORY_TYPE, {}, now=VECTOR_NOW)["issues"]
    )
    rsa = json.dumps({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "r"}]})
    assert analyze_web_bot_auth(rsa, DIRECTORY_TYPE, {}, now=VECTOR_NOW)["issues"] == ["key_not_ed25519"]


def test_directory_media_type() -> None:
    body, headers = directory_vector()
    as_json = analyze_web_bot_auth(
        body, "application/json", headers, authority=VECTOR_AUTHORITY, now=VECTOR_NOW
    )
    assert (
        as_json["directory_present"] and not as_json["media_type_valid"] and "media_type" in as_json["issues"]
    )
    as_html = analyze_web_bot_auth(body, "text/html", headers, authority=VECTOR_AUTHORITY, now=VECTOR_NOW)
    assert as_html["directory_present"] is False and as_html["rejected"] == "content_type"


def test_directory_through_the_observer_keeps_the_signature_headers() -> None:
    body, headers = directory_vector()
    served = obs("/.well-known/http-message-signatures-directory", headers=headers, body=body)
    policy = analyze_policy([served], authority=VECTOR_AUTHORITY, now=VECTOR_NOW)
    assert policy["web_bot_auth"]["signature"] == "valid"


# --- llms.txt / llms-full.txt --------------------------------------------------------------------------


def test_the_llmstxt_org_llms_txt() -> None:
    llms = analyze_llms_txt(fixture("answerdotai_llms.txt"))
    assert llms == {
        "present": True,
        "format": {
            "h1": True,
            "title": "llms.txt",
            "blockquote": True,
            "sections": ["Docs"],
            "section_links": [3],
            "links": 3,
            "optional_section": False,
        },
    }


def test_llms_full_txt_is_checked_like_llms_txt() -> None:
    text = fixture("answerdotai_llms.txt")
    policy = analyze_policy([obs("/llms-full.txt", headers={"content-type": "text/markdown"}, body=text)])
    assert policy["llms_full_txt"]["present"] and policy["llms_full_txt"]["title"] == "llms.txt"
    as_json = analyze_policy([obs("/llms-full.txt", headers={"content-type": "application/json"}, body=text)])
    assert as_json["llms_full_txt"] == {
        "present": False,
        "rejected": "content_type",
        "checked": True,
        "outcome": "served",
        "http_status": 200,
        "soft_404": False,
    }


# --- TDMRep ------------------------------------------------------------------------------------------------


def test_a_real_tdmrep_json_in_its_schema() -> None:
    tdm = analyze_tdmrep(fixture("debats_tdmrep.json"), [], media_type="application/json")
    assert tdm["file_present"] and tdm["reserved"] and tdm["policy_present"]
    assert tdm["channels"]["file"] == {"present": True, "rules": 1, "reserved": True, "policy": True}


def test_tdmrep_file_outside_its_schema_is_not_published() -> None:
    for text in (
        '{"tdm-reservation": 1}',
        '[{"tdm-reservation": 1}]',
        '[{"location": "/", "tdm-reservation": "yes"}]',
    ):
        tdm = analyze_tdmrep(text, [], media_type="application/json")
        assert not tdm["file_present"] and tdm["file_rejected"] == "schema"
    assert (
        analyze_tdmrep(fixture("debats_tdmrep.json"), [], media_type="text/html")["file_rejected"]
        == "content_type"
    )


def test_tdmrep_from_headers_and_meta_tags() -> None:
    page = obs(
        "/",
        headers={**HTML, "tdm-reservation": "1", "tdm-policy": "https://example.test/tdm.json"},
        body="<html><head><title>x</title></head><body>hi</body></html>",
    )
    meta_page = obs(
        "/about",
        headers=HTML,
        body=(
            '<html><head><meta name="tdm-reservation" content="1">'
            '<meta name="tdm-policy" content="https://example.test/tdm.json"><title>a</title></head></html>'
        ),
    )
    tdm = analyze_policy([page, meta_page])["tdmrep"]
    assert tdm["channels"]["header"] == {"present": True, "reserved": True, "policy": True}
    assert tdm["channels"]["meta"] == {"present": True, "reserved": True, "policy": True}
    assert tdm["reserved"] and not tdm["file_present"]


# --- robots.txt: RFC 9309 access --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "access"),
    [
        (200, None, "parsed"),
        (404, None, "unavailable"),
        (403, None, "unavailable"),
        (503, None, "unreachable"),
        (500, None, "unreachable"),
        (None, "connection_failed", "unreachable"),
        (None, "timeout", "unreachable"),
        (None, "too_many_redirects", "unavailable"),
    ],
)
def test_robots_access_follows_rfc_9309(status: int | None, error: str | None, access: str) -> None:
    extra = {"error": ProbeError(code=error, message="x")} if error else {}
    robots = obs(
        "/robots.txt", status, body="User-agent: *\nDisallow: /x\n" if status == 200 else "", **extra
    )
    assert robots_access(robots) == access
    policy = analyze_policy([robots])["robots_txt"]
    assert policy["access"] == access
    assert (
        policy["effect"]
        == {"parsed": "rules", "unavailable": "allow_all", "unreachable": "disallow_all"}[access]
    )


def test_robots_txt_is_parsed_up_to_500_kib() -> None:
    filler = "# " + "x" * 1000 + "\n"
    text = filler * (ROBOTS_PARSE_LIMIT // len(filler) + 1) + "User-agent: GPTBot\nDisallow: /\n"
    robots = analyze_robots(text, ["GPTBot"])
    # the rule after the first 500 KiB is not read
    assert robots["truncated"] is True and robots["ai_agents"]["GPTBot"] == "allowed"
    assert analyze_robots("User-agent: GPTBot\nDisallow: /\n", ["GPTBot"])["truncated"] is False


# --- soft 404 ---------------------------------------------------------------------------------------------


def test_a_body_matching_the_never_existing_path_is_a_soft_404() -> None:
    catch_all = '{"status": "ok", "data": []}'
    probe = obs(
        "/.well-known/botscope-not-found-00.txt",
        headers={"content-type": "application/json"},
        body=catch_all,
        kind="probe",
    )
    tdm = obs("/.well-known/tdmrep.json", headers={"content-type": "application/json"}, body=catch_all)
    assert is_soft_404(tdm, probe)
    real = obs(
        "/.well-known/tdmrep.json",
        headers={"content-type": "application/json"},
        body=fixture("debats_tdmrep.json"),
    )
    assert not is_soft_404(real, probe)
    # a probe that answered 404 says the site does not answer every path alike
    assert not is_soft_404(
        tdm, obs("/.well-known/botscope-not-found-01.txt", 404, body=catch_all, kind="probe")
    )
    llms = fixture("answerdotai_llms.txt")
    policy = analyze_policy(
        [obs("/llms.txt", body=llms), obs("/.well-known/botscope-not-found-02.txt", body=llms, kind="probe")]
    )
    assert policy["llms_txt"] == {
        "present": False,
        "rejected": "soft_404",
        "checked": True,
        "outcome": "served",
        "http_status": 200,
        "soft_404": True,
    }


# --- HTTP 402 pay per crawl ---------------------------------------------------------------------------------


def test_402_with_crawler_price() -> None:
    charged = obs("/", 402, {**HTML, "crawler-price": "USD 0.01"}, "<html>pay</html>", profile="ai_crawler")
    bare = obs("/article", 402, HTML, "<html>pay</html>", profile="ai_crawler")
    ppc = analyze_policy([charged, bare])["pay_per_crawl"]
    assert ppc == {
        "detected": True,
        "paths": ["/"],
        "profiles": ["ai_crawler"],
        "price_well_formed": True,
        "status_402_without_price": ["/article"],
    }
    odd = obs("/", 402, {**HTML, "crawler-price": "a lot"}, "<html>pay</html>", profile="ai_crawler")
    assert analyze_policy([odd])["pay_per_crawl"]["price_well_formed"] is False
