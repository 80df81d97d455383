"""End to end on the local stack: full scans of the JS fixture scenarios through the API, the
workflow's RenderPathRuns Map running the image function's handler in-process with the real
Chromium. Each report carries the rendered outcome and its verdict; the same scan without
rendering (``"render": false``) cannot tell them.

Only scenarios whose pages reference no outside host run here: the local stack resolves names
with the system resolver, and tests send nothing beyond loopback (the browser's own background
services are refused by the egress proxy before any lookup).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.site.server import FixtureSite

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def js_site() -> Iterator[FixtureSite]:
    with FixtureSite("js_challenge") as site:
        yield site


def _report(local_stack: Any, site: FixtureSite, **options: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {local_stack.credentials.enterprise_api_key}"}
    with httpx.Client(base_url=local_stack.base_url, headers=headers, timeout=30) as client:
        created = client.post(
            "/api/v1/scans", json={"target_url": site.url("/"), "scan_mode": "full", **options}
        )
        assert created.status_code == 202, created.text
        location = created.headers["Location"]
        deadline = time.monotonic() + 300  # a liveness bound, not a speed assertion
        while True:
            scan = client.get(location).json()
            if scan["status"] in ("completed", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert scan["status"] == "completed", scan
        report = client.get(f"{location}/report")
        assert report.status_code == 200, report.text
        return {"scan": scan, "report": report.json()}


def _verdicts(report: dict[str, Any], path: str = "/") -> dict[str, dict[str, Any]]:
    entry = next(e for e in report["rendered"] if e["path"] == path)
    return {v["verdict"]: v for v in entry["verdicts"]}


@pytest.mark.parametrize(
    ("scenario", "verdict"),
    [
        ("js_challenge", "challenge_clears_for_browser"),
        ("js_challenge_stuck", "challenge_blocks_browser"),
        ("js_fingerprint", "served_but_fingerprinted"),
    ],
)
def test_full_scan_reports_the_rendered_outcome_and_verdict(
    local_stack: Any, js_site: FixtureSite, scenario: str, verdict: str
) -> None:
    js_site.set_scenario(scenario)
    result = _report(local_stack, js_site)
    report, scan = result["report"], result["scan"]
    rendered_runs = [r for r in scan["path_runs"] if r["profile"] == "rendered"]
    # full mode: the target and each discovered critical path, once each
    assert len(rendered_runs) >= 2 and len({r["path"] for r in rendered_runs}) == len(rendered_runs)
    assert all(r["status"] == "completed" for r in rendered_runs), rendered_runs
    assert verdict in _verdicts(report)
    if scenario == "js_challenge":
        assert _verdicts(report)[verdict]["status"] == "enforced"
    # the same scan without the browser has no rendered evidence to go on
    without = _report(local_stack, js_site, render=False)
    assert without["report"]["rendered"] == []
    assert not [r for r in without["scan"]["path_runs"] if r["profile"] == "rendered"]
