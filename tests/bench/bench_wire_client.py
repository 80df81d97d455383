"""Benchmark: a full scan of the local fixture site with the browser profile on its Chrome wire
client (curl_cffi) against the same scan with the previous client (httpcore) for that profile,
and single-fetch latency of both. Loopback HTTP (the fixture site), so this measures the client's
own overhead, not TLS or the network.

Run: ``.venv/bin/python -m tests.bench.run_all bench_wire_client`` (``run()`` returns the numbers).
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from typing import Any

from botscope.scanner.engine import run_scan
from botscope.scanner.fetch import Fetcher
from botscope.scanner.profiles import get_profile, load_profiles
from botscope.scanner.targets import NetworkPolicy

from tests.fixtures.site import FixtureSite

LOCAL = NetworkPolicy.from_cidrs(["127.0.0.0/8"])
SCANS = 5
FETCHES = 40


def _with_client(client: str) -> None:
    browser = get_profile("browser")
    headers = browser.headers
    if client == "httpcore":  # the fetcher decodes only gzip/deflate itself
        headers = tuple(
            (n, "gzip, deflate") if n.lower() == "accept-encoding" else (n, v) for n, v in headers
        )
    load_profiles()["browser"] = dataclasses.replace(browser, client=client, headers=headers)


def _scan_seconds(url: str) -> float:
    started = time.perf_counter()
    asyncio.run(run_scan(url, "full", LOCAL))
    return time.perf_counter() - started


def _fetch_ms(url: str) -> float:
    async def go() -> list[float]:
        async with Fetcher(LOCAL) as fetcher:
            times = []
            for _ in range(FETCHES):
                started = time.perf_counter()
                await fetcher.fetch(url, "browser")
                times.append((time.perf_counter() - started) * 1000)
            return times

    return statistics.median(asyncio.run(go()))


def run() -> dict[str, Any]:
    original = get_profile("browser")
    results: dict[str, Any] = {}
    try:
        with FixtureSite("clean") as site:
            for client in ("curl_cffi", "httpcore"):
                _with_client(client)
                _scan_seconds(site.url("/"))  # warm-up
                scans = [_scan_seconds(site.url("/")) for _ in range(SCANS)]
                results[client] = {
                    "full_scan_median_s": round(statistics.median(scans), 3),
                    "fetch_median_ms": round(_fetch_ms(site.url("/")), 2),
                }
    finally:
        load_profiles()["browser"] = original
    results["scan_ratio_curl_over_httpcore"] = round(
        results["curl_cffi"]["full_scan_median_s"] / results["httpcore"]["full_scan_median_s"], 2
    )
    results["fetch_ratio_curl_over_httpcore"] = round(
        results["curl_cffi"]["fetch_median_ms"] / results["httpcore"]["fetch_median_ms"], 2
    )
    return results
