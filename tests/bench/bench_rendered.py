"""Benchmark: the rendered profile (headless Chromium through the egress proxy) on the fixture site —
browser start time, rendered path run p50/p95, memory peak of the browser processes, and a full
scan's wall time with and without rendering.

Run: ``.venv/bin/python -m tests.bench.run_all bench_rendered`` (``run()`` returns the numbers).
Memory is the peak, over 100 ms samples, of the summed PSS (proportional set size: shared pages
split between the processes sharing them) of every process the benchmark started (Playwright's
driver and all Chromium processes).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from botscope.scanner import engine
from botscope.scanner.model import PathRunSpec
from botscope.scanner.probe.browser import RenderLimits, RenderSession
from botscope.scanner.targets import NetworkPolicy, normalize_target

from tests.fixtures.site import FixtureSite

POLICY = NetworkPolicy.from_cidrs(["127.0.0.0/8"])
STARTS = 5
RUNS_PER_SCENARIO = 10
SCENARIOS = (("js_fingerprint", "/"), ("js_challenge", "/"), ("kitchen_sink", "/login"))
FULL_SCAN_REPEATS = 3


def _no_names(host: str) -> list[str]:
    raise OSError("the benchmark resolves no names")


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class _MemorySampler:
    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.1):
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(pid) for pid in _descendants(me)))

    def __enter__(self) -> _MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def _starts() -> list[int]:
    target = normalize_target("http://127.0.0.1:9/")
    times = []
    for _ in range(STARTS):
        async with RenderSession(target, POLICY, resolver=_no_names) as session:
            assert session.start_ms is not None
            times.append(session.start_ms)
    return times


async def _path_runs() -> tuple[list[float], int]:
    durations: list[float] = []
    with _MemorySampler() as memory:
        for scenario, path in SCENARIOS:
            with FixtureSite(scenario) as site:
                async with RenderSession(
                    normalize_target(site.url("/")),
                    POLICY,
                    resolver=_no_names,
                    limits=RenderLimits(page_budget=10),
                ) as session:
                    for _ in range(RUNS_PER_SCENARIO):
                        started = time.perf_counter()
                        observation = await session.render(PathRunSpec(path=path, profile="rendered"))
                        durations.append((time.perf_counter() - started) * 1000)
                        assert observation.outcome == "served", observation.error
    return durations, memory.peak_kib


def _full_scan_seconds(render: bool) -> float:
    times = []
    with FixtureSite("kitchen_sink") as site:
        for _ in range(FULL_SCAN_REPEATS):
            started = time.perf_counter()
            asyncio.run(engine.run_scan(site.url("/"), "full", POLICY, resolver=_no_names, render=render))
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def run() -> dict[str, Any]:
    starts = asyncio.run(_starts())
    durations, peak_kib = asyncio.run(_path_runs())
    without = _full_scan_seconds(False)
    with_render = _full_scan_seconds(True)
    return {
        "browser_start_ms": {"p50": statistics.median(starts), "max": max(starts), "samples": len(starts)},
        "rendered_path_run_ms": {
            "p50": round(_percentile(durations, 0.5)),
            "p95": round(_percentile(durations, 0.95)),
            "samples": len(durations),
            "scenarios": ", ".join(f"{s} {p}" for s, p in SCENARIOS),
        },
        "memory_peak_mib": round(peak_kib / 1024, 1),
        "full_scan_kitchen_sink_s": {
            "without_render": round(without, 2),
            "with_render": round(with_render, 2),
            "ratio": round(with_render / without, 2),
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
