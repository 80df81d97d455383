"""Issue 15 item 6: values a scanned site controls (Content-Signal keys and values, titles,
cookie names, header values) enter the report as facts but bounded and without control, bidi or
zero-width characters. Markup stays (it is what the site wrote); renderers escape it."""

from __future__ import annotations

import json

from botscope.scanner.observe import build_observation
from botscope.scanner.policy import analyze_policy
from botscope.scanner.sanitize import KEY_LIMIT, MAX_SIGNAL_KEYS, VALUE_LIMIT, site_text

from tests.unit.scanner._helpers import fetch_result, spec

TEXT = {"content-type": "text/plain; charset=utf-8"}
UNSAFE = "\x00\x1b\x07\u202e\u2066\u200b\ufeff\x85\x7f\x9b"


def _obs(path, status=200, headers=TEXT, body="", set_cookie=()):
    return build_observation(
        spec(path, "browser"), fetch_result(status, headers, body, set_cookie=set_cookie, path=path)
    )


def _assert_clean(text: str) -> None:
    assert not any(c in text for c in UNSAFE), repr(text)


def test_site_text_strips_unsafe_characters_and_bounds_length() -> None:
    assert site_text(f"a{UNSAFE}b\t\n c") == "ab c"
    long = site_text("x" * 1000, 20)
    assert len(long) == 20 and long.endswith("…")
    assert site_text("<script>alert(1)</script>") == "<script>alert(1)</script>"  # a fact; renderers escape


def test_content_signal_keys_and_values_are_bounded_and_clean() -> None:
    """Only vocabulary keys with vocabulary values become signals; everything else the site wrote
    is reported as invalid, bounded in count and length, and reduced to inert characters."""
    inline = UNSAFE.replace("\x85", "")  # NEL would end the robots.txt line (str.splitlines)
    hostile_key = f"search{inline}<img src onerror>" + "k" * 500
    many = ", ".join(f"k{n}=yes" for n in range(100))
    robots = (
        f"User-agent: *\nContent-Signal: {hostile_key}=yes{inline}, ai-train={'n' * 5000}, search=yes\n"
        f"Content-Signal: {many}\nAllow: /\n"
    )
    policy = analyze_policy([_obs("/robots.txt", body=robots)])
    assert policy["content_signals"] == {"search": "yes"}
    invalid = policy["content_signals_invalid"]
    assert 0 < len(invalid) <= MAX_SIGNAL_KEYS
    for entry in invalid:
        _assert_clean(entry)
        assert len(entry) <= KEY_LIMIT + VALUE_LIMIT + 1
        assert "<" not in entry and ">" not in entry
    assert any(entry.startswith("search") for entry in invalid)  # the hostile key, made inert


def test_titles_cookie_names_and_header_values_are_clean() -> None:
    page = f"<html><head><title>Shop{UNSAFE}  <b>now</b> {'t' * 2000}</title></head><body>hi</body></html>"
    observation = _obs(
        "/",
        headers={"content-type": "text/html", "server": f"nginx{UNSAFE}" + "s" * 3000},
        body=page,
        set_cookie=[f"sess{UNSAFE}id=abc; Path=/"],
    )
    assert observation.title is not None and len(observation.title) <= 300
    _assert_clean(observation.title)
    assert observation.cookie_names == ["sessid"]
    assert len(observation.headers["server"]) <= 1024
    _assert_clean(observation.headers["server"])
    _assert_clean(json.dumps(observation.model_dump(mode="json"), ensure_ascii=False))
