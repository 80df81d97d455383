"""Benchmark: latency of ``GET /api/v1/scans/{id}`` on the local stack (uvicorn + moto server, one
process), for a completed quick scan of the fixture site: p50 / p95 / max over ``requests`` calls
on one keep-alive connection, after a short warm-up.

What it includes: HTTP parsing, Bearer key lookup (one GetItem), the scan item and its path runs
(GetItem + Query), JSON rendering. moto answers in-process over HTTP, so DynamoDB round trips are
cheaper than on AWS but its Python request handling is slower; treat the numbers as the app's
own overhead on this machine, not as a production figure.

Run: ``.venv/bin/python -m tests.bench.bench_api_latency`` (``run()`` returns the numbers).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REQUESTS = 300
WARMUP = 20


def _percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def run(requests: int = REQUESTS) -> dict[str, Any]:
    from botscope.local.stack import LocalStack

    from tests.fixtures.site.server import FixtureSite

    with (
        tempfile.TemporaryDirectory() as state_dir,
        FixtureSite(scenario="clean") as site,
        LocalStack(
            port=0,
            allow_private_targets="127.0.0.0/8",
            run_schedules=False,
            state_dir=Path(state_dir),
            # Latency, not the rate limiter, is measured here: this many GETs exceed one key's window.
            extra_env={"BOTSCOPE_RATE_LIMIT_REQUESTS": "0"},
        ) as stack,
    ):
        assert stack.credentials is not None
        headers = {"Authorization": f"Bearer {stack.credentials.enterprise_api_key}"}
        with httpx.Client(base_url=stack.base_url, headers=headers, timeout=30) as client:
            created = client.post("/api/v1/scans", json={"target_url": site.url("/"), "scan_mode": "quick"})
            created.raise_for_status()
            location = created.headers["Location"]
            for _ in range(600):
                scan = client.get(location).json()
                if scan["status"] in ("completed", "failed"):
                    break
                time.sleep(0.2)
            for _ in range(WARMUP):
                client.get(location).raise_for_status()
            samples = []
            for _ in range(requests):
                start = time.perf_counter()
                client.get(location).raise_for_status()
                samples.append((time.perf_counter() - start) * 1000)
    return {
        "endpoint": "GET /api/v1/scans/{id}",
        "scan_status": scan["status"],
        "path_runs": len(scan.get("path_runs") or []),
        "requests": requests,
        "p50_ms": round(_percentile(samples, 50), 2),
        "p95_ms": round(_percentile(samples, 95), 2),
        "max_ms": round(max(samples), 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
