"""Rule files: schema validation, compile-once loading, and every rule against the fixtures.

Positive fixtures must fire the listed rules with the right vendor, measure and outcome; negative
fixtures (traps and near-misses written from the vendor markers of the rules) must fire no rule except the ones the
fixture explicitly allows (e.g. CDN presence on a trap page).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from botscope.scanner.observe import build_observation
from botscope.scanner.rules_engine import (
    RULES_DIR,
    ResponseFeatures,
    RuleFileError,
    body_window,
    load_rule_file,
    load_ruleset,
    rule_files,
)

from tests.unit.scanner._helpers import fixture_fetch, load_fixture, response_fixtures, spec

SCANNER_VENDOR_IDS = [
    "cloudflare",
    "akamai",
    "datadome",
    "human",
    "kasada",
    "imperva",
    "f5",
    "aws_waf",
    "aws_cloudfront",
    "recaptcha",
    "hcaptcha",
    "turnstile",
    "arkose",
    "geetest",
    "friendly_captcha",
    "fastly",
    "sucuri",
    "vercel",
    "netlify",
    "netacea",
    "radware",
    "reblaze",
    "queue_it",
    "cheq",
    "anubis",
    "go_away",
    "modsecurity",
    "azure_front_door",
    "google_cloud_armor",
]
FIXTURES = response_fixtures()
POSITIVES = [p for p in FIXTURES if p.name.startswith("positive_")]
NEGATIVES = [p for p in FIXTURES if p.name.startswith("negative_")]


def _ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.name}/{p.stem}" for p in paths]


def _observe(path: Path):
    doc = load_fixture(path)
    return doc, build_observation(spec("/"), fixture_fetch(doc))


@pytest.mark.parametrize("path", rule_files(RULES_DIR), ids=lambda p: p.name)
def test_rule_file_validates_against_schema(path: Path) -> None:
    document, rules = load_rule_file(path)
    assert rules, "a rule file needs at least one rule"
    assert path.stem == (document["vendor"] or "generic")
    for rule in rules:
        assert rule.references and rule.min_score > 0
        assert all(m.weight >= 0 for m in rule.matchers)


def test_every_scanner_vendor_has_a_rule_file() -> None:
    vendors = set(load_ruleset().vendors)
    assert set(SCANNER_VENDOR_IDS) <= vendors
    assert None in vendors  # the vendorless rate-limit / block rules


def test_ruleset_is_cached_and_versioned() -> None:
    first, second = load_ruleset(), load_ruleset()
    assert first is second
    assert re.fullmatch(r"\d{4}\.\d{2}\.\d{2}-\d+\+[0-9a-f]{12}", first.version)


def _copy_rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


def test_unknown_field_is_rejected(tmp_path: Path) -> None:
    rules_dir = _copy_rules(tmp_path)
    doc = yaml.safe_load((rules_dir / "netlify.yaml").read_text())
    doc["rules"][0]["colour"] = "red"
    (rules_dir / "netlify.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(RuleFileError, match="schema violation"):
        load_ruleset(rules_dir)


def test_bad_regex_is_rejected(tmp_path: Path) -> None:
    rules_dir = _copy_rules(tmp_path)
    doc = yaml.safe_load((rules_dir / "netlify.yaml").read_text())
    doc["rules"][0]["matchers"][0]["value"] = "^(netlify"
    (rules_dir / "netlify.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(RuleFileError, match="bad regex"):
        load_ruleset(rules_dir)


def test_duplicate_rule_id_is_rejected(tmp_path: Path) -> None:
    rules_dir = _copy_rules(tmp_path)
    doc = yaml.safe_load((rules_dir / "netlify.yaml").read_text())
    doc["rules"].append(dict(doc["rules"][0]))
    (rules_dir / "netlify.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(RuleFileError, match="duplicate"):
        load_ruleset(rules_dir)


def test_adding_a_vendor_is_one_data_file(tmp_path: Path) -> None:
    rules_dir = _copy_rules(tmp_path)
    (rules_dir / "examplewaf.yaml").write_text(
        yaml.safe_dump(
            {
                "vendor": "examplewaf",
                "name": "Example WAF",
                "rules": [
                    {
                        "id": "examplewaf.block",
                        "product": "Example WAF",
                        "measure": "waf",
                        "layer": "edge",
                        "strength": "strong",
                        "active": True,
                        "references": ["test"],
                        "min_score": 1.0,
                        "matchers": [{"type": "header", "name": "x-example-waf", "weight": 1.0}],
                    }
                ],
            }
        )
    )
    ruleset = load_ruleset(rules_dir)
    assert ruleset.version != load_ruleset().version
    matches = ruleset.match(ResponseFeatures(status=403, headers=[("x-example-waf", "block")]))
    assert [(m.vendor, m.measure, m.active) for m in matches] == [("examplewaf", "waf", True)]


@pytest.mark.parametrize("path", POSITIVES, ids=_ids(POSITIVES))
def test_positive_fixture_fires(path: Path) -> None:
    doc, obs = _observe(path)
    expect = doc["expect"]
    fired = {m.rule_id for m in obs.matches}
    assert set(expect["rules"]) <= fired, f"missing {set(expect['rules']) - fired}"
    vendors = {m.vendor for m in obs.matches if m.vendor}
    assert set(expect["vendors"]) <= vendors
    assert set(expect["measures"]) <= {m.measure for m in obs.matches}
    assert obs.outcome == expect["outcome"]
    forbidden = set(expect["forbidden_vendors"])
    assert not (vendors & (forbidden - {"*"}))
    if "*" in forbidden:
        assert vendors <= set(expect["vendors"]) | set(expect["allowed_vendors"])


@pytest.mark.parametrize("path", NEGATIVES, ids=_ids(NEGATIVES))
def test_no_rule_fires_on_negative_fixture(path: Path) -> None:
    doc, obs = _observe(path)
    expect = doc["expect"]
    fired = {m.rule_id for m in obs.matches}
    unexpected = fired - set(expect["allowed_rules"])
    assert not unexpected, f"rules fired on a negative fixture: {unexpected}"
    assert obs.outcome == expect["outcome"]
    vendors = {m.vendor for m in obs.matches if m.vendor}
    assert not (vendors & set(expect["forbidden_vendors"]))


def test_every_rule_has_a_positive_and_a_negative_fixture() -> None:
    positive_rules: set[str] = set()
    for path in POSITIVES:
        positive_rules |= set(load_fixture(path)["expect"]["rules"])
    ruleset = load_ruleset()
    no_positive = [r.id for r in ruleset.rules if r.id not in positive_rules]
    assert not no_positive, f"rules without a positive fixture: {no_positive}"
    # every rule is exercised as "must not fire" by at least one negative fixture of its own vendor
    for rule in ruleset.rules:
        folder = rule.vendor or "generic"
        negatives = [load_fixture(p)["expect"]["allowed_rules"] for p in NEGATIVES if p.parent.name == folder]
        assert negatives, f"{folder} has no negative fixture"
        assert any(rule.id not in allowed for allowed in negatives), f"{rule.id} is allowed by every negative"


def test_body_prefilter_literals_never_hide_a_match() -> None:
    """The literal guard is derived from each regex; on every fixture body, a regex hit must
    imply its guard literal is present (otherwise the guard would hide real matches)."""
    ruleset = load_ruleset()
    bodies = [body_window(fixture_fetch(load_fixture(p)).body) for p in FIXTURES]
    checked = 0
    for rule in ruleset.rules:
        for matcher in rule.matchers:
            if matcher.kind != "body" or matcher.literals is None:
                continue
            for text in bodies:
                if matcher.pattern.search(text):
                    checked += 1
                    assert any(lit in text for lit in matcher.literals), (rule.id, matcher.literals)
    assert checked > 50


def test_evidence_names_never_carry_matched_text() -> None:
    """Body/title evidence uses the rule's label; a canary inside the body must not leak."""
    ruleset = load_ruleset()
    features = ResponseFeatures(
        status=403,
        headers=[("cf-mitigated", "challenge"), ("server", "cloudflare")],
        cookie_names=["__cf_bm"],
        body_text=body_window(b"<script>window._cf_chl_opt={cHash:'CANARYHASH'};</script>"),
        title="just a moment...",
    )
    matches = ruleset.match(features)
    names = [e.name for m in matches for e in m.evidence]
    assert names and not any("canary" in n.lower() for n in names)


def test_non_ascii_body_markers_match_their_utf8_bytes() -> None:
    body = "<p>We’re verifying your browser</p><p>You don’t have permission to access this page.</p>".encode()
    features = ResponseFeatures(status=403, body_text=body_window(body))
    ruleset = load_ruleset()
    hits = {}
    for rule_id in ("vercel.challenge", "akamai.edge_deny"):
        for matcher in ruleset.rule(rule_id).matchers:
            if matcher.kind == "body" and (found := matcher.evaluate(features)) is not None:
                hits[rule_id] = found.name
    assert hits == {
        "vercel.challenge": "We're verifying your browser",
        "akamai.edge_deny": "You don't have permission to access",
    }


def test_non_ascii_body_pattern_is_rejected(tmp_path: Path) -> None:
    rules_dir = _copy_rules(tmp_path)
    doc = yaml.safe_load((rules_dir / "netlify.yaml").read_text())
    doc["rules"][0]["matchers"].append({"type": "body", "pattern": "we’re", "label": "x"})
    (rules_dir / "netlify.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    with pytest.raises(RuleFileError, match="ASCII"):
        load_ruleset(rules_dir)
