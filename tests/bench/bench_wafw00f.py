"""Benchmark: vendor detection on stored responses, BotScope rules side by side with wafw00f 2.4.2.

Data: the real captured corpus (shared/corpus/real) and our per-vendor fixture responses
(tests/fixtures/responses). No network: wafw00f's own plugin checks run against each stored
response by giving its ``WAFW00F`` object a ``requests.Response`` built from the stored status,
headers, cookies and body, as both the normal and the "attack" response (wafw00f normally sends
an attack request too; a stored response can only answer one way, which is what the site did).

Per tool: vendor recall (required vendors found), false positives (vendors reported where the
expectation forbids them), and, for vendors that may only be reported as CDN presence, how often
the tool reported them as a WAF/defense. wafw00f has no plugin for CAPTCHA vendors, DataDome,
Kasada, Netacea, Queue-it, CHEQ, go-away or Netlify, so recall is also given on the subset of
expected vendors wafw00f can name at all.

``run()`` returns the numbers; wafw00f missing (it lives in the ``bench`` extra) is reported, not
raised.
"""

from __future__ import annotations

import http
import json
from typing import Any

from botscope.scanner.observe import build_observation
from botscope.scanner.rules_engine import load_ruleset

from tests.unit.scanner._helpers import corpus_files, fixture_fetch, load_fixture, response_fixtures, spec

# wafw00f plugin module → our vendor id (plugins not listed are reported as "wafw00f:<module>").
WAFW00F_TO_VENDOR = {
    "cloudflare": "cloudflare", "kona": "akamai", "perimeterx": "human", "incapsula": "imperva",
    "distil": "imperva", "f5bigipasm": "f5", "f5bigipapm": "f5", "f5bigipltm": "f5", "f5firepass": "f5",
    "f5trafficshield": "f5", "awswaf": "aws_waf", "cloudfront": "aws_cloudfront", "fastly": "fastly",
    "sucuri": "sucuri", "godaddy": "sucuri", "vercel": "vercel", "radware": "radware", "reblaze": "reblaze",
    "anubis": "anubis", "modsecurity": "modsecurity", "frontdoor": "azure_front_door",
    "applicationgateway": "azure_front_door", "gcparmor": "google_cloud_armor",
}
WAFW00F_VENDORS = set(WAFW00F_TO_VENDOR.values())


def _items() -> list[dict[str, Any]]:
    """Every stored response with its expectation, normalised for both tools."""
    items = []
    for path in corpus_files():
        doc = load_fixture(path)
        expect = doc["expect"]
        items.append({
            "name": f"corpus/{path.stem}", "doc": doc, "path": expect["serve_path"],
            "required": set(expect["vendors"]),
            "allowed": set(expect.get("allowed_vendors", [])) | set(expect.get("cdn_only_vendors", [])),
            "forbidden": set(expect["forbidden_vendors"]), "cdn_only": set(expect.get("cdn_only_vendors", [])),
        })
    for path in response_fixtures():
        doc = load_fixture(path)
        expect = doc["expect"]
        positive = path.name.startswith("positive_")
        allowed_rules = expect.get("allowed_rules", [])
        items.append({
            "name": f"fixture/{path.parent.name}/{path.stem}", "doc": doc, "path": "/",
            "required": set(expect.get("vendors", [])) if positive else set(),
            "allowed": set(expect.get("allowed_vendors", [])) | {r.split(".")[0] for r in allowed_rules
                                                                  if not r.startswith("generic.")},
            "forbidden": set(expect.get("forbidden_vendors", [])), "cdn_only": set(),
        })
    return items


def _botscope(item: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(vendors reported, vendors reported with a non-CDN measure)."""
    obs = build_observation(spec(item["path"]), fixture_fetch(item["doc"], item["path"]), load_ruleset())
    vendors = {m.vendor for m in obs.matches if m.vendor}
    beyond_cdn = {m.vendor for m in obs.matches if m.vendor and m.measure != "cdn"}
    return vendors, beyond_cdn


def _fake_response(doc: dict[str, Any]):
    import requests
    from requests.structures import CaseInsensitiveDict

    response = requests.models.Response()
    status = doc.get("status") or 200
    response.status_code = status
    headers = CaseInsensitiveDict(doc.get("headers") or {})
    cookies = doc.get("set_cookie") or []
    if cookies:
        headers["Set-Cookie"] = ", ".join(f"{name}=x; Path=/" for name in cookies)
    response.headers = headers
    body = doc.get("body", doc.get("body_excerpt", "")) or ""
    response._content = body.encode("utf-8")
    response.encoding = "utf-8"
    try:
        response.reason = http.HTTPStatus(status).phrase
    except ValueError:
        response.reason = ""
    response.url = "https://example.test/"
    return response


def _wafw00f_engine():
    from wafw00f.main import WAFW00F
    from wafw00f.manager import load_plugins

    plugins = load_plugins()
    name_to_module = {module.NAME: key for key, module in plugins.items()}
    engine = WAFW00F.__new__(WAFW00F)   # no __init__: it would send a request
    import logging

    engine.log = logging.getLogger("wafw00f")
    engine.knowledge = {"generic": {"found": False, "reason": ""}, "wafname": []}
    return engine, plugins, name_to_module


def _wafw00f(engine, plugins, item: dict[str, Any]) -> set[str]:
    response = _fake_response(item["doc"])
    engine.rq = response
    engine.attackres = response
    found = set()
    for key, module in plugins.items():
        try:
            hit = module.is_waf(engine)
        except Exception:  # a plugin that cannot handle a stored response counts as no hit
            hit = False
        if hit:
            found.add(WAFW00F_TO_VENDOR.get(key, f"wafw00f:{key}"))
    return found


def _score(items: list[dict[str, Any]], detected: list[set[str]], beyond_cdn: list[set[str]]) -> dict[str, Any]:
    required = found = 0
    required_covered = found_covered = 0
    false_positives: list[str] = []
    cdn_as_defense: list[str] = []
    for item, vendors, beyond in zip(items, detected, beyond_cdn, strict=True):
        required += len(item["required"])
        found += len(item["required"] & vendors)
        covered = item["required"] & WAFW00F_VENDORS
        required_covered += len(covered)
        found_covered += len(covered & vendors)
        forbidden = item["forbidden"] - {"*"}
        extra = vendors & forbidden
        if "*" in item["forbidden"]:
            extra |= vendors - item["required"] - item["allowed"]
        false_positives += [f"{item['name']}:{v}" for v in sorted(extra)]
        cdn_as_defense += [f"{item['name']}:{v}" for v in sorted(item["cdn_only"] & beyond)]
    return {
        "vendor_recall": round(found / required, 3) if required else None,
        "required_vendors": required, "found": found,
        "recall_on_vendors_wafw00f_can_name": round(found_covered / required_covered, 3) if required_covered else None,
        "false_positives": len(false_positives), "false_positive_cases": false_positives,
        "cdn_only_reported_as_defense": len(cdn_as_defense), "cdn_only_cases": cdn_as_defense,
    }


def run() -> dict[str, Any]:
    items = _items()
    ours = [_botscope(item) for item in items]
    result: dict[str, Any] = {
        "responses": len(items),
        "corpus_responses": sum(1 for i in items if i["name"].startswith("corpus/")),
        "botscope": _score(items, [o[0] for o in ours], [o[1] for o in ours]),
    }
    try:
        engine, plugins, _ = _wafw00f_engine()
    except ImportError as exc:
        result["wafw00f"] = {"skipped": f"wafw00f not installed ({exc}); install the bench extra"}
        return result
    import wafw00f

    theirs = [_wafw00f(engine, plugins, item) for item in items]
    # wafw00f reports every hit as a WAF, so every CDN-only vendor it names counts as "beyond CDN".
    result["wafw00f"] = {"version": wafw00f.__version__, "plugins": len(plugins),
                         **_score(items, theirs, theirs)}
    for subset in ("corpus/", "fixture/"):
        picked = [i for i, item in enumerate(items) if item["name"].startswith(subset)]
        key = subset.rstrip("/")
        result[f"{key}_only"] = {
            "botscope": _score([items[i] for i in picked], [ours[i][0] for i in picked], [ours[i][1] for i in picked]),
            "wafw00f": _score([items[i] for i in picked], [theirs[i] for i in picked], [theirs[i] for i in picked]),
        }
        for tool in ("botscope", "wafw00f"):
            result[f"{key}_only"][tool].pop("false_positive_cases")
            result[f"{key}_only"][tool].pop("cdn_only_cases")
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, default=sorted))
