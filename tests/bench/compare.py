"""Two revisions' benchmark runs side by side:
``python -m tests.bench.compare BASE.json[,BASE2.json…] NEW.json[,NEW2.json…] [--limit 10]``.

The files come from ``python -m tests.bench.run_all --json PATH`` on the same machine. Each numeric
measure is printed with the ratio new/base; a measure whose name says which way is better (times,
sizes and memory are better lower; rates are better higher) is flagged when the new run is worse by
more than ``--limit`` percent. Measures with no direction in their name (counts, settings) are
printed unflagged. The exit status is 1 when any measure is flagged.

Several runs of one side (comma-separated) count by their best value of each measure: on a shared
machine a slow moment only ever makes a run slower, so the best of runs taken in turns (base, new,
new, base) is the fairer figure of each revision.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tests.bench.run_all import _flatten

LOWER_IS_BETTER = ("_ms", "ms_", "seconds", "_s", "bytes", "mib", "rss", "kib", "latency", "duration")
HIGHER_IS_BETTER = ("per_s", "per_second", "throughput", "rps", "per_minute")


def direction(measure: str) -> int:
    """-1 when lower is better, +1 when higher is better, 0 when the name does not say."""
    name = measure.lower().rsplit(".", 1)[-1]
    if any(token in name for token in HIGHER_IS_BETTER):
        return 1
    if any(name.endswith(token) or token in name for token in LOWER_IS_BETTER):
        return -1
    return 0


def numeric_measures(run: dict[str, Any]) -> dict[str, float]:
    return {
        key: float(value)
        for key, value in _flatten(run.get("results", {}))
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def best_of(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Each measure's best value over ``runs`` (lowest or highest as its name says; a measure with
    no direction keeps the first run's value)."""
    best: dict[str, float] = {}
    for run in runs:
        for measure, value in numeric_measures(run).items():
            if measure not in best:
                best[measure] = value
            elif direction(measure) < 0:
                best[measure] = min(best[measure], value)
            elif direction(measure) > 0:
                best[measure] = max(best[measure], value)
    return best


def compare(
    base: dict[str, Any] | list[dict[str, Any]],
    new: dict[str, Any] | list[dict[str, Any]],
    limit_percent: float,
) -> list[dict[str, Any]]:
    """One row per measure both sides have; each side is one run or several (``best_of``)."""
    base_values = best_of(base if isinstance(base, list) else [base])
    new_values = best_of(new if isinstance(new, list) else [new])
    rows = []
    for measure in sorted(base_values.keys() & new_values.keys()):
        old, current = base_values[measure], new_values[measure]
        ratio = current / old if old else None
        way = direction(measure)
        worse = ratio is not None and (
            (way < 0 and ratio > 1 + limit_percent / 100) or (way > 0 and ratio < 1 - limit_percent / 100)
        )
        rows.append({"measure": measure, "base": old, "new": current, "ratio": ratio, "worse": worse})
    return rows


def _runs(paths: str) -> list[dict[str, Any]]:
    return [json.loads(Path(path).read_text()) for path in paths.split(",") if path]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", type=_runs, help="the base revision's run(s), comma-separated")
    parser.add_argument("new", type=_runs, help="the new revision's run(s), comma-separated")
    parser.add_argument("--limit", type=float, default=10.0, help="percent worse that is flagged")
    args = parser.parse_args(argv)
    rows = compare(args.base, args.new, args.limit)
    print("| measure | base | new | new/base | |")
    print("|---|---|---|---|---|")
    for row in rows:
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "–"
        print(
            f"| {row['measure']} | {row['base']:g} | {row['new']:g} | {ratio} | {'WORSE' if row['worse'] else ''} |"
        )
    return 1 if any(row["worse"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
