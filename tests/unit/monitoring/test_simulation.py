"""A simulated day of monitoring (fake clock, fake scan starter, the real scheduler logic over the
in-memory due index). The 50,000-URL run is tests/bench/bench_monitoring_sim.py."""

from __future__ import annotations

import pytest
from botscope.monitoring.simulation import simulate
from botscope.store.table import DUE_SHARDS

# No shard may carry more than this multiple of the mean shard load (stated in docs/monitoring.md).
MAX_SHARD_VS_MEAN = 1.5


@pytest.fixture(scope="module")
def day() -> dict:
    # 5,000 URLs: 10% hourly (enterprise), the rest daily, 500 of those enrolled in the same second.
    return simulate(5000, hourly_share=0.1, herd=500, hours=24, seed=11).figures


def test_every_url_is_scanned_once_per_cadence(day: dict) -> None:
    assert day["due_times_in_window"] == 4500 * 1 + 500 * 24
    assert day["due_times_served_in_window"] == day["due_times_in_window"]
    assert day["urls_with_wrong_count"] == 0
    assert day["duplicate_starts"] == 0


def test_start_rate_stays_within_the_bound(day: dict) -> None:
    assert day["max_starts_in_any_second"] <= day["start_rate_bound_per_second"]
    assert day["runs_that_ran_out_of_budget"] == 0  # the bound leaves headroom at this load


def test_no_shard_carries_more_than_its_share(day: dict) -> None:
    assert day["max_shard_share"] <= MAX_SHARD_VS_MEAN / DUE_SHARDS
    assert day["max_shard_vs_mean"] <= MAX_SHARD_VS_MEAN


def test_a_herd_beyond_one_runs_budget_is_drained_without_skips_or_duplicates() -> None:
    # 3,000 URLs due in the same second at 10 starts/s and 100 s per run: four runs to drain.
    result = simulate(3000, hourly_share=0.0, herd=3000, hours=24, seed=3, workspaces=20)
    figures = result.figures
    assert figures["runs_that_ran_out_of_budget"] >= 2
    assert figures["due_times_served_in_window"] == figures["due_times_in_window"] == 3000
    assert figures["duplicate_starts"] == 0
    assert figures["max_starts_in_any_second"] <= figures["start_rate_bound_per_second"]
