"""Benchmark: bounded load on the local stack — 200 clients polling `GET /api/v1/scans/{id}` while 50 quick scans of the fixture site run; throughput, latency percentiles, errors.

Everything runs on 127.0.0.1 in one process (uvicorn + moto server + the Step Functions
interpreter + the fixture site), so the API, the workflow and the "websites" compete for the same
two CPUs: read the numbers as this machine's capacity for the whole system, not as the API's
alone. Bounded in count (``polls_per_client``) and time (``time_limit_seconds``); no assertions.

Run: ``.venv/bin/python -m tests.bench.bench_load`` (``run()`` returns the numbers).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

SCANS = 50
CLIENTS = 200
POLLS_PER_CLIENT = 25
TIME_LIMIT_SECONDS = 240.0


def _percentiles(samples: list[float]) -> dict[str, float]:
    if len(samples) < 2:
        return {"p50_ms": round(samples[0], 2) if samples else 0.0}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49], 2),
        "p95_ms": round(cuts[94], 2),
        "p99_ms": round(cuts[98], 2),
        "max_ms": round(max(samples), 2),
    }


async def _load(
    base_url: str, key: str, site_url: Any, scans: int, clients: int, polls: int, time_limit: float
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    deadline = time.monotonic() + time_limit
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60, limits=limits) as client:
        started = time.monotonic()
        create_latency: list[float] = []
        scan_ids: list[str] = []
        created_at: dict[str, float] = {}
        create_errors = 0

        async def create(n: int) -> None:
            nonlocal create_errors
            t0 = time.perf_counter()
            try:
                response = await client.post(
                    "/api/v1/scans", json={"target_url": site_url(f"/?load={n}"), "scan_mode": "quick"}
                )
            except httpx.HTTPError:
                create_errors += 1
                return
            create_latency.append((time.perf_counter() - t0) * 1000)
            if response.status_code in (200, 202):
                scan_id = response.json()["scan_job_id"]
                scan_ids.append(scan_id)
                created_at[scan_id] = time.monotonic()
            else:
                create_errors += 1

        await asyncio.gather(*(create(n) for n in range(scans)))
        poll_latency: list[float] = []
        statuses: dict[int, int] = {}
        error_kinds: dict[str, int] = {}
        poll_errors = 0
        finished_at: dict[str, float] = {}
        final_status: dict[str, str] = {}
        failure_codes: list[str | None] = []

        async def poller(seed: int) -> None:
            nonlocal poll_errors
            rng = random.Random(seed)
            for _ in range(polls):
                if time.monotonic() > deadline or not scan_ids:
                    return
                scan_id = rng.choice(scan_ids)
                t0 = time.perf_counter()
                try:
                    response = await client.get(f"/api/v1/scans/{scan_id}")
                except httpx.HTTPError as exc:
                    poll_errors += 1
                    kind = type(exc).__name__
                    error_kinds[kind] = error_kinds.get(kind, 0) + 1
                    continue
                poll_latency.append((time.perf_counter() - t0) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code != 200:
                    poll_errors += 1
                    kind = f"HTTP {response.status_code} {response.json().get('code', '')}".strip()
                    error_kinds[kind] = error_kinds.get(kind, 0) + 1
                    continue
                status = response.json()["status"]
                if status in ("completed", "failed") and scan_id not in finished_at:
                    finished_at[scan_id] = time.monotonic()
                    final_status[scan_id] = status
                    if status == "failed":
                        failure_codes.append((response.json().get("error") or {}).get("code"))
                await asyncio.sleep(rng.uniform(0.05, 0.25))  # a polite client, like Retry-After asks

        poll_started = time.monotonic()
        await asyncio.gather(*(poller(i) for i in range(clients)))
        poll_seconds = time.monotonic() - poll_started
        # Let the scans finish (bounded), so scan wall time is known for all of them.
        while time.monotonic() < deadline and len(finished_at) < len(scan_ids):
            for scan_id in [s for s in scan_ids if s not in finished_at]:
                response = await client.get(f"/api/v1/scans/{scan_id}")
                if response.status_code == 200 and response.json()["status"] in ("completed", "failed"):
                    finished_at[scan_id] = time.monotonic()
                    final_status[scan_id] = response.json()["status"]
                    if final_status[scan_id] == "failed":
                        failure_codes.append((response.json().get("error") or {}).get("code"))
            await asyncio.sleep(0.5)
        wall = [(finished_at[s] - created_at[s]) * 1000 for s in finished_at]
        total_seconds = time.monotonic() - started
    return {
        "scans": {
            "requested": scans,
            "created": len(scan_ids),
            "create_errors": create_errors,
            "completed": sum(1 for s in final_status.values() if s == "completed"),
            "failed": sum(1 for s in final_status.values() if s == "failed"),
            "failure_codes": sorted({str(c) for c in failure_codes}),
            "unfinished_at_time_limit": len(scan_ids) - len(finished_at),
            "create_latency": _percentiles(create_latency),
            "wall_time_ms": _percentiles(wall),
            "all_finished_after_s": round(max(finished_at.values()) - started, 1) if finished_at else None,
        },
        "polling": {
            "clients": clients,
            "requests": len(poll_latency),
            "errors": poll_errors,
            "status_codes": {str(k): v for k, v in sorted(statuses.items())},
            "error_kinds": error_kinds,
            "throughput_rps": round(len(poll_latency) / poll_seconds, 1) if poll_seconds else 0.0,
            "latency": _percentiles(poll_latency),
        },
        "total_seconds": round(total_seconds, 1),
    }


def run(
    scans: int = SCANS,
    clients: int = CLIENTS,
    polls_per_client: int = POLLS_PER_CLIENT,
    time_limit_seconds: float = TIME_LIMIT_SECONDS,
) -> dict[str, Any]:
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
            # Capacity, not the limiters, is measured: one key sends thousands of requests here.
            extra_env={"BOTSCOPE_RATE_LIMIT_REQUESTS": "0", "BOTSCOPE_MAX_CONCURRENT_SCANS": "0"},
        ) as stack,
    ):
        assert stack.credentials is not None
        result = asyncio.run(
            _load(
                stack.base_url,
                stack.credentials.enterprise_api_key,
                site.url,
                scans,
                clients,
                polls_per_client,
                time_limit_seconds,
            )
        )
    return {
        "setup": f"{scans} quick scans of the fixture site + {clients} polling clients, one process",
        **result,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
