"""Real captured responses (shared corpus) served by the fixture site and scanned end to end:
the report must meet each capture's ``expect`` (required, forbidden and CDN-only vendors, policy)."""

from __future__ import annotations

import asyncio
import json

import pytest
from botscope.scanner import engine

from tests.fixtures.site import corpus_scenario
from tests.fixtures.site.server import CORPUS_DIR

CAPTURES = sorted(p.stem for p in CORPUS_DIR.glob("*.json")) if CORPUS_DIR.exists() else []


def _lookup(report: dict, dotted: str):
    node = report
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return "<missing>"
        node = node[part]
    return node


@pytest.mark.skipif(not CAPTURES, reason="shared corpus not available")
@pytest.mark.parametrize("capture", CAPTURES)
def test_capture_meets_its_expectations(fixture_site, local_policy, capture):
    expect = json.loads((CORPUS_DIR / f"{capture}.json").read_text("utf-8"))["expect"]
    fixture_site.set_scenario(corpus_scenario(capture))
    report = asyncio.run(engine.run_scan(fixture_site.url("/"), "quick", local_policy))

    found = set(report["summary"]["vendors"])
    allowed = set(expect["vendors"]) | set(expect["allowed_vendors"])
    forbidden = set(expect["forbidden_vendors"])
    assert set(expect["vendors"]) <= found
    assert not {v for v in found if v in forbidden or ("*" in forbidden and v not in allowed)}
    for detection in report["detections"]:
        if detection["vendor"] in expect.get("cdn_only_vendors", []):
            assert detection["measure"] == "cdn", detection
        if expect.get("defense_free"):
            assert detection["measure"] == "cdn", detection
    for dotted, value in (expect.get("policy") or {}).items():
        assert _lookup(report, dotted) == value, dotted
