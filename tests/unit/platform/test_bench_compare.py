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


def test_several_runs_of_a_side_count_by_their_best_value(tmp_path: Path) -> None:
    # The new revision's first run met a slow moment; its second is as fast as the base.
    base = [_run({"b": {"p50_ms": 10.0, "per_second": 50.0, "rules": 70}})]
    new = [
        _run({"b": {"p50_ms": 16.0, "per_second": 30.0, "rules": 71}}),
        _run({"b": {"p50_ms": 10.2, "per_second": 49.0, "rules": 72}}),
    ]
    rows = {row["measure"]: row for row in compare(base, new, 10.0)}
    assert rows["b.p50_ms"]["new"] == 10.2 and rows["b.per_second"]["new"] == 49.0
    assert rows["b.rules"]["new"] == 71  # no direction: the first run's value
    assert not any(row["worse"] for row in rows.values())
    files = []
    for i, run in enumerate(new):
        path = tmp_path / f"new{i}.json"
        path.write_text(json.dumps(run))
        files.append(str(path))
    (tmp_path / "base.json").write_text(json.dumps(base[0]))
    assert main([str(tmp_path / "base.json"), ",".join(files)]) == 0
    assert main([str(tmp_path / "base.json"), files[0]]) == 1
