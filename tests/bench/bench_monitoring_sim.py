"""Benchmark: a simulated day of monitoring at 50,000 monitored URLs (fake clock, fake scan
starter, the real scheduler over the in-memory sharded due index; no network).

Mix: 45,000 daily URLs (2,000 of them enrolled in the same second, a bulk import) and 5,000
hourly URLs (enterprise). The scheduler runs every 5 minutes as EventBridge would, with a bound of
10 starts/s and a 100 s budget per run. Reported: due times served vs due times in the day (must be
equal; no duplicates), the largest number of starts in any 1 s window (must not exceed the bound),
the busiest due-index shard's share of the starts (32 shards: 1/32 = 0.03125 is perfectly even),
lateness of starts after their due time, and the wall time of the simulation itself.

Run: ``.venv/bin/python -m tests.bench.bench_monitoring_sim`` (``run()`` returns the numbers).
"""

from __future__ import annotations

import json
import time
from typing import Any

from botscope.monitoring.simulation import simulate

URLS = 50_000
HOURLY_SHARE = 0.1
HERD = 2_000


def run() -> dict[str, Any]:
    start = time.perf_counter()
    result = simulate(URLS, hourly_share=HOURLY_SHARE, herd=HERD, hours=24, seed=2026, workspaces=1000)
    figures = dict(result.figures)
    figures["simulation_wall_seconds"] = round(time.perf_counter() - start, 2)
    figures["every_due_time_served_once"] = (
        figures["due_times_served_in_window"] == figures["due_times_in_window"]
        and figures["duplicate_starts"] == 0
        and figures["urls_with_wrong_count"] == 0
    )
    figures["rate_within_bound"] = (
        figures["max_starts_in_any_second"] <= figures["start_rate_bound_per_second"]
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
