"""Benchmark (soak): many quick scans through the local stack in batches, sampling the process's memory (RSS), open file descriptors and threads after each batch — they should stay flat once warm.

One process holds everything (uvicorn, moto server, the Step Functions interpreter, the SQS and
schedule loops, the fixture site), so a leak anywhere in BotScope's request, workflow or fetch
path shows up here. "Warm" is the sample after the second batch (imports, caches and pools are
filled by then); growth is reported from there to the last batch. moto keeps everything written
(scan items, observations and reports in S3, execution histories) in this same process's memory,
so RSS rises with the data stored; open files and threads must not rise at all. Bounded in count (``batches``
× ``scans_per_batch``) and time (``time_limit_seconds``); no assertions: `make soak` writes the
figures to docs/benchmarks.md.

Run: ``make soak`` or ``.venv/bin/python -m tests.bench.bench_soak``.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

# `make bench` runs the short soak; `make soak` sets SOAK_BATCHES (default 20 there).
BATCHES = int(os.environ.get("SOAK_BATCHES", "8"))
SCANS_PER_BATCH = 10
TIME_LIMIT_SECONDS = 900.0


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _sample(batch: int, scans_done: int) -> dict[str, Any]:
    gc.collect()
    return {
        "batch": batch,
        "scans": scans_done,
        "rss_mib": round(_rss_kib() / 1024, 1),
        "fds": _open_fds(),
        "threads": threading.active_count(),
    }


def _wait(client: httpx.Client, scan_ids: list[str], deadline: float) -> dict[str, str]:
    final: dict[str, str] = {}
    while time.monotonic() < deadline and len(final) < len(scan_ids):
        for scan_id in scan_ids:
            if scan_id in final:
                continue
            response = client.get(f"/api/v1/scans/{scan_id}")
            if response.status_code == 200 and response.json()["status"] in ("completed", "failed"):
                final[scan_id] = response.json()["status"]
        time.sleep(0.3)
    return final


RESULT_PREFIX = "SOAK_RESULT "


def run(
    batches: int = BATCHES,
    scans_per_batch: int = SCANS_PER_BATCH,
    time_limit_seconds: float = TIME_LIMIT_SECONDS,
) -> dict[str, Any]:
    """Runs the soak in a fresh interpreter, so the process measured holds the soak alone (not
    whatever `make bench` ran before it in this one)."""
    repo_root = Path(__file__).resolve().parents[2]
    args = [
        sys.executable,
        "-m",
        "tests.bench.bench_soak",
        str(batches),
        str(scans_per_batch),
        str(time_limit_seconds),
    ]
    done = subprocess.run(
        args, cwd=repo_root, capture_output=True, text=True, timeout=time_limit_seconds + 120, check=True
    )
    line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith(RESULT_PREFIX))
    return dict(json.loads(line[len(RESULT_PREFIX) :]))


def soak(batches: int, scans_per_batch: int, time_limit_seconds: float) -> dict[str, Any]:
    from botscope.local.stack import LocalStack

    from tests.fixtures.site.server import FixtureSite

    deadline = time.monotonic() + time_limit_seconds
    samples: list[dict[str, Any]] = []
    outcomes = {"completed": 0, "failed": 0, "unfinished": 0}
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory() as state_dir,
        FixtureSite(scenario="kitchen_sink") as site,
        LocalStack(
            port=0,
            allow_private_targets="127.0.0.0/8",
            run_schedules=False,
            state_dir=Path(state_dir),
            extra_env={"BOTSCOPE_RATE_LIMIT_REQUESTS": "0", "BOTSCOPE_MAX_CONCURRENT_SCANS": "0"},
        ) as stack,
    ):
        assert stack.credentials is not None
        headers = {"Authorization": f"Bearer {stack.credentials.enterprise_api_key}"}
        samples.append(_sample(0, 0))
        with httpx.Client(base_url=stack.base_url, headers=headers, timeout=60) as client:
            done = 0
            for batch in range(1, batches + 1):
                if time.monotonic() > deadline:
                    break
                ids = []
                for n in range(scans_per_batch):
                    response = client.post(
                        "/api/v1/scans",
                        json={"target_url": site.url(f"/?soak={batch}-{n}"), "scan_mode": "quick"},
                    )
                    if response.status_code in (200, 202):
                        ids.append(response.json()["scan_job_id"])
                final = _wait(client, ids, deadline)
                for status in final.values():
                    outcomes[status] += 1
                outcomes["unfinished"] += len(ids) - len(final)
                done += len(ids)
                samples.append(_sample(batch, done))
    warm = samples[min(2, len(samples) - 1)]
    last = samples[-1]
    return {
        "setup": f"{batches} batches x {scans_per_batch} quick scans of the kitchen_sink fixture, one process",
        "scans": outcomes,
        "seconds": round(time.monotonic() - started, 1),
        "rss_mib": {
            "start": samples[0]["rss_mib"],
            "warm": warm["rss_mib"],
            "last": last["rss_mib"],
            "max": max(s["rss_mib"] for s in samples),
            "growth_after_warm": round(last["rss_mib"] - warm["rss_mib"], 1),
            "growth_per_100_scans_after_warm": round(
                (last["rss_mib"] - warm["rss_mib"]) * 100 / max(1, last["scans"] - warm["scans"]), 2
            ),
        },
        "open_fds": {
            "start": samples[0]["fds"],
            "warm": warm["fds"],
            "last": last["fds"],
            "max": max(s["fds"] for s in samples),
            "growth_after_warm": last["fds"] - warm["fds"],
        },
        "threads": {
            "warm": warm["threads"],
            "last": last["threads"],
            "max": max(s["threads"] for s in samples),
        },
        "samples": " ".join(f"{s['scans']}:{s['rss_mib']}MiB/{s['fds']}fd" for s in samples),
    }


if __name__ == "__main__":
    if len(sys.argv) == 4:  # the child started by run()
        print(
            RESULT_PREFIX + json.dumps(soak(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))),
            flush=True,
        )
    else:
        print(json.dumps(run(), indent=2))
