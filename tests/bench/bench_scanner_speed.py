"""Benchmark: a full scan of the fixture site with 100 ms injected latency per response, against
the sum of its request times (what a sequential scanner would take). Target: at least 5x faster.

Run: ``.venv/bin/python -m tests.bench.bench_scanner_speed`` (``run()`` returns the numbers).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from botscope.scanner import engine
from botscope.scanner.fetch import Fetcher, FetchLimits
from botscope.scanner.rules_engine import load_ruleset
from botscope.scanner.targets import NetworkPolicy

from tests.fixtures.site import FixtureSite

LATENCY_S = 0.100
SCENARIO = "kitchen_sink"


class _RecordingFetcher(Fetcher):
    """Records every fetch's own duration (queueing for a per-host slot excluded)."""

    durations_ms: list[int] = []

    async def fetch(self, url, profile, *, follow_redirects=True):  # type: ignore[override]
        result = await super().fetch(url, profile, follow_redirects=follow_redirects)
        type(self).durations_ms.append(result.duration_ms or 0)
        return result


def run(
    latency: float = LATENCY_S,
    scenario: str = SCENARIO,
    limits: FetchLimits | None = None,
    compare_sequential: bool = True,
) -> dict[str, Any]:
    """The issue's measure (sum of request times / wall time) and, as a cross-check, the wall
    time of the same scan actually run one request at a time."""
    numbers = _measure(latency, scenario, limits or FetchLimits())
    if compare_sequential:
        one_at_a_time = _measure(latency, scenario, FetchLimits(per_host_concurrency=1))
        numbers["sequential_run_wall_s"] = one_at_a_time["wall_s"]
        numbers["speedup_vs_sequential_run"] = round(one_at_a_time["wall_s"] / numbers["wall_s"], 2)
    return numbers


def _measure(latency: float, scenario: str, limits: FetchLimits) -> dict[str, Any]:
    policy = NetworkPolicy.from_cidrs(["127.0.0.0/8"])  # the fixture site is on loopback
    load_ruleset()  # compiled once per process (per Lambda container): not part of a scan's time
    _RecordingFetcher.durations_ms = []
    original = engine.Fetcher
    engine.Fetcher = _RecordingFetcher  # type: ignore[misc]
    try:
        with FixtureSite(scenario, latency=latency) as site:
            started = time.perf_counter()
            report = asyncio.run(engine.run_scan(site.url("/"), "full", policy, limits=limits))
            wall_s = time.perf_counter() - started
            requests = len(site.requests)
    finally:
        engine.Fetcher = original  # type: ignore[misc]
    sequential_s = sum(_RecordingFetcher.durations_ms) / 1000
    return {
        "benchmark": "scanner_full_scan_speed",
        "scenario": scenario,
        "injected_latency_ms": int(latency * 1000),
        "per_host_concurrency": limits.per_host_concurrency,
        "path_runs": len(report["path_runs"]),
        "requests": requests,
        "wall_s": round(wall_s, 3),
        "sum_of_request_times_s": round(sequential_s, 3),
        "speedup": round(sequential_s / wall_s, 2) if wall_s else None,
        "target_speedup": 5.0,
        "meets_target": wall_s > 0 and sequential_s / wall_s >= 5.0,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
