"""Two benchmark runs side by side: ``python -m tests.bench.compare BASE.json NEW.json [--limit 10]``.

Both files come from ``python -m tests.bench.run_all --json PATH`` on the same machine. Each numeric
measure is printed with the ratio new/base; a measure whose name says which way is better (times,
sizes and memory are better lower; rates are better higher) is flagged when the new run is worse by
more than ``--limit`` percent. Measures with no direction in their name (counts, settings) are
printed unflagged. The exit status is 1 when any measure is flagged.
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


def compare(base: dict[str, Any], new: dict[str, Any], limit_percent: float) -> list[dict[str, Any]]:
    base_values, new_values = numeric_measures(base), numeric_measures(new)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--limit", type=float, default=10.0, help="percent worse that is flagged")
    args = parser.parse_args(argv)
    rows = compare(json.loads(args.base.read_text()), json.loads(args.new.read_text()), args.limit)
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
