"""`make compare`: vendor detection on the replayed repository corpus, BotScope and wafw00f 2.4.2 side by side, measured in one run.

The corpus (tests/corpus) is replayed on 127.0.0.1: each capture gets a fixture site serving it at
its ``expect.serve_path`` (canaries planted), BotScope runs a quick scan and wafw00f runs its own
detection (``WAFW00F(url).identwaf(findall=True)``: its normal request plus its attack request)
against the same site. Both are scored with ``tests.fixtures.corpus.score``: vendor recall
(required vendors found) and false positives (vendors reported where the capture's expectation
forbids them), per vendor and overall. wafw00f has no plugin for CAPTCHA vendors, DataDome,
Kasada, Netacea, Queue-it, CHEQ, go-away or Netlify, so recall is also given on the subset of
required vendors wafw00f can name at all. wafw00f's "generic" verdict (a WAF, unnamed) names no
vendor and is counted separately.

``stored_responses`` repeats the comparison without HTTP on the stored responses plus the
per-vendor fixture responses (tests/fixtures/responses), giving wafw00f's plugins each stored
response as both its normal and its attack response. wafw00f missing (it lives in the ``bench``
extra) is reported, not raised.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
from contextlib import ExitStack
from typing import Any

from botscope.scanner import engine as scan_engine
from botscope.scanner.observe import build_observation
from botscope.scanner.rules_engine import load_ruleset

from tests.fixtures import corpus
from tests.fixtures.site import FixtureSite, corpus_scenario
from tests.integration.scanner.conftest import LOCAL_POLICY
from tests.unit.scanner._helpers import corpus_files, fixture_fetch, load_fixture, response_fixtures, spec

# wafw00f plugin module → our vendor id (plugins not listed are reported as "wafw00f:<module>").
WAFW00F_TO_VENDOR = {
    "cloudflare": "cloudflare",
    "kona": "akamai",
    "perimeterx": "human",
    "incapsula": "imperva",
    "distil": "imperva",
    "f5bigipasm": "f5",
    "f5bigipapm": "f5",
    "f5bigipltm": "f5",
    "f5firepass": "f5",
    "f5trafficshield": "f5",
    "awswaf": "aws_waf",
    "cloudfront": "aws_cloudfront",
    "fastly": "fastly",
    "sucuri": "sucuri",
    "godaddy": "sucuri",
    "vercel": "vercel",
    "radware": "radware",
    "reblaze": "reblaze",
    "anubis": "anubis",
    "modsecurity": "modsecurity",
    "frontdoor": "azure_front_door",
    "applicationgateway": "azure_front_door",
    "gcparmor": "google_cloud_armor",
}
WAFW00F_VENDORS = set(WAFW00F_TO_VENDOR.values())


def _items() -> list[dict[str, Any]]:
    """Every stored response with its expectation, normalised for both tools."""
    items = []
    for path in corpus_files():
        doc = load_fixture(path)
        expect = doc["expect"]
        items.append(
            {
                "name": f"corpus/{path.stem}",
                "doc": doc,
                "path": expect["serve_path"],
                "required": set(expect["vendors"]),
                "allowed": set(expect.get("allowed_vendors", [])) | set(expect.get("cdn_only_vendors", [])),
                "forbidden": set(expect["forbidden_vendors"]),
                "cdn_only": set(expect.get("cdn_only_vendors", [])),
            }
        )
    for path in response_fixtures():
        doc = load_fixture(path)
        expect = doc["expect"]
        positive = path.name.startswith("positive_")
        allowed_rules = expect.get("allowed_rules", [])
        items.append(
            {
                "name": f"fixture/{path.parent.name}/{path.stem}",
                "doc": doc,
                "path": "/",
                "required": set(expect.get("vendors", [])) if positive else set(),
                "allowed": set(expect.get("allowed_vendors", []))
                | {r.split(".")[0] for r in allowed_rules if not r.startswith("generic.")},
                "forbidden": set(expect.get("forbidden_vendors", [])),
                "cdn_only": set(),
            }
        )
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
    engine = WAFW00F.__new__(WAFW00F)  # no __init__: it would send a request
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


def _score(
    items: list[dict[str, Any]], detected: list[set[str]], beyond_cdn: list[set[str]]
) -> dict[str, Any]:
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
        "required_vendors": required,
        "found": found,
        "recall_on_vendors_wafw00f_can_name": round(found_covered / required_covered, 3)
        if required_covered
        else None,
        "false_positives": len(false_positives),
        "false_positive_cases": false_positives,
        "cdn_only_reported_as_defense": len(cdn_as_defense),
        "cdn_only_cases": cdn_as_defense,
    }


def stored_responses() -> dict[str, Any]:
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
    result["wafw00f"] = {
        "version": wafw00f.__version__,
        "plugins": len(plugins),
        **_score(items, theirs, theirs),
    }
    for subset in ("corpus/", "fixture/"):
        picked = [i for i, item in enumerate(items) if item["name"].startswith(subset)]
        key = subset.rstrip("/")
        result[f"{key}_only"] = {
            "botscope": _score(
                [items[i] for i in picked], [ours[i][0] for i in picked], [ours[i][1] for i in picked]
            ),
            "wafw00f": _score(
                [items[i] for i in picked], [theirs[i] for i in picked], [theirs[i] for i in picked]
            ),
        }
        for tool in ("botscope", "wafw00f"):
            result[f"{key}_only"][tool].pop("false_positive_cases")
            result[f"{key}_only"][tool].pop("cdn_only_cases")
    return result


# --- the replayed corpus ---------------------------------------------------------------------------


def _wafw00f_on_site(url: str, name_to_module: dict[str, str]) -> tuple[set[str], bool]:
    """(vendor ids wafw00f names for the site, whether its generic detection fired instead)."""
    from wafw00f.main import WAFW00F

    logging.getLogger("wafw00f").setLevel(logging.CRITICAL)
    detector = WAFW00F(url, timeout=5)
    if detector.rq is None:
        return set(), False
    names, _ = detector.identwaf(findall=True)
    found = {
        WAFW00F_TO_VENDOR.get(name_to_module.get(n, n), f"wafw00f:{name_to_module.get(n, n)}") for n in names
    }
    generic = False
    if not names:
        try:
            generic = bool(detector.genericdetect())
        except Exception:  # its generic probes may fail on a stored page: that is "no verdict"
            generic = False
    return found, generic


async def _botscope_scans(sites: list[FixtureSite], names: list[str]) -> list[dict[str, Any]]:
    return list(
        await asyncio.gather(
            *(scan_engine.run_scan(site.url("/"), "quick", LOCAL_POLICY) for site in sites[: len(names)])
        )
    )


def replayed_corpus(parallel: int = 4) -> dict[str, Any]:
    captures = {path.stem: corpus.load_capture(path) for path in corpus.capture_paths()}
    names = sorted(captures)
    try:
        from wafw00f.manager import load_plugins
    except ImportError as exc:
        load_plugins = None
        skipped = f"wafw00f not installed ({exc}); install the bench extra"
    name_to_module = {module.NAME: key for key, module in load_plugins().items()} if load_plugins else {}
    ours: dict[str, set[str]] = {}
    theirs: dict[str, set[str]] = {}
    generic: list[str] = []
    leaks: list[str] = []
    wrong_facts: list[str] = []
    with ExitStack() as stack:
        sites = [stack.enter_context(FixtureSite("clean")) for _ in range(parallel)]
        for start in range(0, len(names), parallel):
            batch = names[start : start + parallel]
            for site, name in zip(sites, batch, strict=False):
                site.set_scenario(corpus_scenario(name))
            reports = asyncio.run(_botscope_scans(sites, batch))
            for site, name, report in zip(sites, batch, reports, strict=False):
                ours[name] = corpus.reported_vendors(report)
                leaks += [f"{name}:{token}" for token in corpus.leaked_canaries(report)]
                wrong_facts += [
                    f"{name}:{key}"
                    for key, value in (captures[name]["expect"].get("policy") or {}).items()
                    if corpus.policy_value(report, key) != value
                ]
                if load_plugins:
                    theirs[name], generic_hit = _wafw00f_on_site(site.url("/"), name_to_module)
                    if generic_hit:
                        generic.append(name)

    # On a capture whose WAF is outside the vocabulary (expect.unidentified_block), a tool that names
    # it anyway is more specific, not wrong: such names are counted apart, never as false positives.
    out_of_vocabulary = sorted(
        f"{n}:{v}"
        for n in names
        if captures[n]["expect"].get("unidentified_block")
        for v in theirs.get(n, set())
        if v.startswith("wafw00f:")
    )
    for n in names:
        if captures[n]["expect"].get("unidentified_block") and n in theirs:
            theirs[n] = {v for v in theirs[n] if not v.startswith("wafw00f:")}

    def summary(found: dict[str, set[str]]) -> dict[str, Any]:
        total = corpus.score((n, found[n], captures[n]["expect"]) for n in names)
        covered = corpus.score(
            (
                n,
                found[n] & WAFW00F_VENDORS,
                {
                    **captures[n]["expect"],
                    "vendors": sorted(set(captures[n]["expect"]["vendors"]) & WAFW00F_VENDORS),
                },
            )
            for n in names
        )
        return {
            "vendor_recall": total.recall,
            "required_vendors": total.required,
            "found": total.found,
            "recall_on_vendors_wafw00f_can_name": covered.recall,
            "false_positives": len(total.false_positives),
            "false_positive_cases": total.false_positives,
            "per_vendor": total.per_vendor,
        }

    result: dict[str, Any] = {
        "captures": len(names),
        "policy_facts": sum(len(captures[n]["expect"].get("policy") or {}) for n in names),
        "botscope": {**summary(ours), "policy_facts_wrong": wrong_facts, "canary_leaks": leaks},
    }
    if load_plugins:
        import wafw00f

        result["wafw00f"] = {
            "version": wafw00f.__version__,
            "plugins": len(name_to_module),
            **summary(theirs),
            "generic_waf_verdicts": len(generic),
            "out_of_vocabulary_names_on_unidentified_blocks": out_of_vocabulary,
        }
    else:
        result["wafw00f"] = {"skipped": skipped}
    return result


def run() -> dict[str, Any]:
    return {"replayed_corpus": replayed_corpus(), "stored_responses": stored_responses()}


def section_markdown(result: dict[str, Any]) -> str:
    """The compare section: overall figures and the per-vendor table, both tools side by side."""
    replay = result["replayed_corpus"]
    ours, theirs = replay["botscope"], replay["wafw00f"]
    if "skipped" in theirs:
        return f"wafw00f: {theirs['skipped']}.\n\n```\n{json.dumps(result, indent=1, default=sorted)}\n```\n"
    rows = [
        f"Replayed corpus: {replay['captures']} captures from `tests/corpus` on 127.0.0.1, {replay['policy_facts']} policy facts.",
        "",
        f"| measure | BotScope | wafw00f {theirs['version']} |",
        "|---|---|---|",
        f"| vendor recall | {ours['vendor_recall']} ({ours['found']}/{ours['required_vendors']}) "
        f"| {theirs['vendor_recall']} ({theirs['found']}/{theirs['required_vendors']}) |",
        f"| recall on vendors wafw00f can name | {ours['recall_on_vendors_wafw00f_can_name']} "
        f"| {theirs['recall_on_vendors_wafw00f_can_name']} |",
        f"| false positives | {ours['false_positives']} | {theirs['false_positives']} |",
        f"| policy facts wrong | {len(ours['policy_facts_wrong'])} | (no policy checks) |",
        f"| canary leaks | {len(ours['canary_leaks'])} | - |",
        f'| unnamed "generic WAF" verdicts | - | {theirs["generic_waf_verdicts"]} |',
        f"| out-of-vocabulary WAF named on an unidentified block (not counted) | - "
        f"| {len(theirs['out_of_vocabulary_names_on_unidentified_blocks'])} |",
        "",
        "| vendor | required | BotScope found | wafw00f found | BotScope false+ | wafw00f false+ |",
        "|---|---|---|---|---|---|",
    ]
    vendors = sorted(set(ours["per_vendor"]) | set(theirs["per_vendor"]))
    for vendor in vendors:
        a = ours["per_vendor"].get(vendor, {"required": 0, "found": 0, "false_positives": 0})
        b = theirs["per_vendor"].get(vendor, {"required": 0, "found": 0, "false_positives": 0})
        rows.append(
            f"| {vendor} | {max(a['required'], b['required'])} | {a['found']} | {b['found']} "
            f"| {a['false_positives']} | {b['false_positives']} |"
        )
    rows += [
        "",
        f"wafw00f false positives: {', '.join(theirs['false_positive_cases']) or 'none'}.",
        f"BotScope false positives: {', '.join(ours['false_positive_cases']) or 'none'}.",
        "",
    ]
    stored = result["stored_responses"]
    if "wafw00f" in stored and "vendor_recall" in stored["wafw00f"]:
        rows += [
            f"Stored responses without HTTP ({stored['responses']} = corpus + fixture responses): vendor recall "
            f"BotScope {stored['botscope']['vendor_recall']}, wafw00f {stored['wafw00f']['vendor_recall']}; "
            f"false positives BotScope {stored['botscope']['false_positives']}, wafw00f {stored['wafw00f']['false_positives']}.",
            "",
        ]
    return "\n".join(rows)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, default=sorted))
