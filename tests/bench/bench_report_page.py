"""Benchmark: server-side rendering of the report page (``botscope.reporting.html``) for a scan of 10 paths × 6 profiles, and its weight.

Target (issue 13): under 30 ms to render and under 100 KB (HTML + stylesheet, no images). The
report is a real full scan of the fixture site (kitchen_sink: vendors, policy files, 160 AI agent
robots.txt rules, findings), widened to 10 page paths × the 6 profiles (browser, rendered,
ai_crawler, ai_agent, signed_agent, http_client) with the enforcement rows the new profiles add.
Timings are p50/p95 over ``repeats`` renders after one warm-up; no assertion on time.
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import statistics
import time
from typing import Any

from botscope.reporting.html import render_report_page, stylesheet
from botscope.reporting.view import PROFILE_ORDER
from botscope.scanner.engine import run_scan
from botscope.scanner.targets import NetworkPolicy

from tests.fixtures.site import FixtureSite

TARGET_MS = 30.0
TARGET_KB = 100.0
PATHS = 10


def wide_report() -> dict[str, Any]:
    with FixtureSite("kitchen_sink") as site:
        report = asyncio.run(
            run_scan(
                site.url("/"),
                "full",
                NetworkPolicy.from_cidrs(["127.0.0.0/8"]),
                scan_job_id="scan_01m8y4bench0000000000000000",
            )
        )
    pages = [r for r in report["path_runs"] if r.get("kind") != "policy"]
    paths = list(dict.fromkeys(r["path"] for r in pages))[:PATHS]
    by_key = {(r["path"], r["profile"]): r for r in pages}
    runs = []
    for path in paths:
        for profile in PROFILE_ORDER:
            source = by_key.get((path, profile)) or by_key.get(
                (path, "ai_agent" if "agent" in profile else "browser")
            )
            runs.append({**copy.deepcopy(source), "profile": profile})
    enforcement = list(report["enforcement"])
    enforcement += [
        {**e, "agent_profile": "signed_agent"}
        for e in report["enforcement"]
        if e["agent_profile"] == "ai_agent"
    ]
    policy_runs = [r for r in report["path_runs"] if r.get("kind") == "policy"]
    return {**report, "path_runs": runs + policy_runs, "enforcement": enforcement}


def run(repeats: int = 200) -> dict[str, Any]:
    report = wide_report()
    page_runs = [r for r in report["path_runs"] if r.get("kind") != "policy"]
    render_report_page(report)  # warm-up: template compilation happens once per process
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        html = render_report_page(report)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    css, _etag = stylesheet()
    weight_kb = (len(html.encode()) + len(css)) / 1024
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return {
        "matrix": f"{len({r['path'] for r in page_runs})} paths × {len({r['profile'] for r in page_runs})} profiles",
        "findings": len(report["findings"]),
        "detections": len(report["detections"]),
        "render_p50_ms": round(statistics.median(samples), 2),
        "render_p95_ms": round(p95, 2),
        "render_max_ms": round(samples[-1], 2),
        "target_ms": TARGET_MS,
        "html_kb": round(len(html.encode()) / 1024, 1),
        "css_kb": round(len(css) / 1024, 1),
        "weight_kb": round(weight_kb, 1),
        "weight_gzip_kb": round((len(gzip.compress(html.encode())) + len(gzip.compress(css))) / 1024, 1),
        "target_kb": TARGET_KB,
        "meets_targets": bool(p95 < TARGET_MS and weight_kb < TARGET_KB),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
