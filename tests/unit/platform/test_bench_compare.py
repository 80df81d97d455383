"""The benchmark comparison flags only measures that got worse, in the direction their name says."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bench.compare import compare, direction, main


def _run(results: dict[str, object]) -> dict[str, object]:
    return {"machine": "test", "results": results}


def test_direction_is_read_from_the_measure_name() -> None:
    assert direction("bench_api_latency.get_scan.p95_ms") == -1
    assert direction("bench_webhooks.deliveries_per_s") == 1
    assert direction("bench_analysis.rules") == 0


def test_a_slower_time_and_a_lower_rate_are_flagged_a_faster_one_is_not() -> None:
    base = _run({"b": {"p95_ms": 100.0, "deliveries_per_s": 10.0, "rules": 70, "ok": True}})
    new = _run({"b": {"p95_ms": 112.0, "deliveries_per_s": 8.5, "rules": 90, "ok": False}})
    rows = {row["measure"]: row for row in compare(base, new, 10.0)}
    assert rows["b.p95_ms"]["worse"] and rows["b.deliveries_per_s"]["worse"]
    assert not rows["b.rules"]["worse"]  # no direction in the name
    assert "b.ok" not in rows  # booleans are not measures
    faster = _run({"b": {"p95_ms": 105.0, "deliveries_per_s": 12.0}})
    assert not any(row["worse"] for row in compare(base, faster, 10.0))


def test_main_exits_1_when_a_measure_is_worse(tmp_path: Path) -> None:
    base, new = tmp_path / "base.json", tmp_path / "new.json"
    base.write_text(json.dumps(_run({"b": {"p50_ms": 10.0}})))
    new.write_text(json.dumps(_run({"b": {"p50_ms": 20.0}})))
    assert main([str(base), str(new)]) == 1
    new.write_text(json.dumps(_run({"b": {"p50_ms": 10.5}})))
    assert main([str(base), str(new)]) == 0
