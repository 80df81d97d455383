"""Rules match families, not pages: generic wordings never name a vendor on their own, bodies
pasted without headers are still recognised, and the engine's early exit never changes a result."""

from __future__ import annotations

import pytest
from botscope.scanner.model import Evidence
from botscope.scanner.observe import build_observation
from botscope.scanner.rules_engine import ResponseFeatures, Rule, body_window, load_ruleset

from tests.fixtures.corpus import UNIDENTIFIED_PRODUCT, captures
from tests.unit.scanner._helpers import fixture_fetch, load_fixture, response_fixtures, spec

# Wordings that many vendors' pages share (and that ordinary error pages use): none of them, nor
# all of them together, may name a vendor without a vendor-specific marker beside them.
GENERIC_WORDINGS = [
    "Access Denied",
    "Request blocked.",
    "Sorry, you have been blocked",
    "Why have I been blocked?",
    "Checking your browser before accessing",
    "Verifying you are human. This may take a few seconds.",
    "Not Acceptable!",
    "403 Forbidden",
    "You don't have permission to access this resource.",
    "Just a moment...",
    "Please enable JavaScript and cookies to continue",
    "Security check",
    "Your support ID is",
    "Request unsuccessful.",
    "The request could not be satisfied",
    "Access to this page has been denied",
    "Please verify you are a human",
    "Press & Hold",
    "Enable JS and disable any ad blocker",
    "We're verifying your browser",
    "Making sure you're not a bot!",
]
CORPUS = captures()


def _generic_page() -> bytes:
    paragraphs = "".join(f"<p>{w}</p>" for w in GENERIC_WORDINGS)
    return f"<!DOCTYPE html><html><head><title>Access Denied</title></head><body>{paragraphs}</body></html>".encode()


@pytest.mark.parametrize("status", [200, 403, 429, 503])
def test_generic_wordings_name_no_vendor(status: int) -> None:
    doc = {"status": status, "headers": {"content-type": "text/html"}, "body": _generic_page().decode()}
    observation = build_observation(spec("/"), fixture_fetch(doc))
    named = sorted({m.rule_id for m in observation.matches if m.vendor})
    assert named == []
    # a clear block with no vendor marker is the vendorless detection's job
    if status != 200:
        assert any(m.product == UNIDENTIFIED_PRODUCT for m in observation.matches)


@pytest.mark.parametrize("wording", GENERIC_WORDINGS)
def test_each_generic_wording_alone_names_no_vendor(wording: str) -> None:
    body = f"<html><head><title>{wording}</title></head><body><h1>{wording}</h1></body></html>"
    observation = build_observation(spec("/"), fixture_fetch({"status": 403, "headers": {}, "body": body}))
    assert {m.vendor for m in observation.matches if m.vendor} == set()


HEADERLESS = sorted(
    name for name, doc in CORPUS.items() if not doc.get("headers_recorded", True) and doc["expect"]["vendors"]
)


def test_corpus_holds_headerless_pastes() -> None:
    assert len(HEADERLESS) >= 10


@pytest.mark.parametrize("name", HEADERLESS)
def test_a_pasted_body_without_headers_is_recognised(name: str) -> None:
    doc = CORPUS[name]
    bare = {"status": doc["status"], "headers": {}, "set_cookie": [], "body": doc["body_excerpt"]}
    observation = build_observation(spec("/"), fixture_fetch(bare))
    assert set(doc["expect"]["vendors"]) <= {m.vendor for m in observation.matches if m.vendor}


def _reference_evaluate(rule: Rule, features: ResponseFeatures) -> tuple[float, list[Evidence]] | None:
    """The rule semantics without any shortcut: every matcher evaluated, then the verdict."""
    score, evidence = 0.0, []
    for matcher in rule.matchers:
        hit = matcher.evaluate(features)
        if hit is None:
            if matcher.required:
                return None
            continue
        if matcher.exclude:
            return None
        score += matcher.weight
        if all(e.signal != hit.signal or e.name != hit.name for e in evidence):
            evidence.append(hit)
    if score + 1e-9 < rule.min_score or not evidence:
        return None
    return round(score, 3), evidence


def _all_features() -> list[ResponseFeatures]:
    docs = [load_fixture(p) for p in response_fixtures()] + list(CORPUS.values())
    features = []
    for doc in docs:
        fetch = fixture_fetch(
            doc, doc.get("expect", {}).get("serve_path", "/") if "body_excerpt" in doc else "/"
        )
        headers = [(n.lower(), v) for n, v in fetch.headers]
        observation = build_observation(spec("/"), fetch)
        features.append(
            ResponseFeatures(
                status=fetch.status,
                headers=headers,
                cookie_names=observation.cookie_names,
                body_text=body_window(fetch.body),
                title=(observation.title or "").lower() or None,
                script_hosts=observation.script_hosts,
                iframe_hosts=observation.iframe_hosts,
            )
        )
    return features


def test_early_exit_never_changes_a_verdict() -> None:
    ruleset = load_ruleset()
    compared = fired = 0
    for features in _all_features():
        for rule in ruleset.rules:
            got = rule.evaluate(features)
            want = _reference_evaluate(rule, features)
            compared += 1
            if want is None:
                assert got is None, rule.id
            else:
                fired += 1
                assert got is not None and (got.score, got.evidence) == want, rule.id
    assert compared > 10_000 and fired > 200
