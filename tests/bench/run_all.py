"""``make bench``: runs every ``tests/bench/bench_*.py`` module's ``run()`` and writes
docs/benchmarks.md (numbers, machine, date). ``python -m tests.bench.run_all [name ...]`` runs only
the named modules (e.g. ``bench_api_latency``); the others keep their last recorded section, each
with the date it ran. ``--json PATH`` also writes this run's results as JSON, for
``python -m tests.bench.compare BASE.json NEW.json`` (two runs side by side on one machine).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parents[1]
OUTPUT = REPO_ROOT / "docs" / "benchmarks.md"


def discover() -> list[str]:
    return sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, {cpu}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        rows: list[tuple[str, Any]] = []
        for key, inner in value.items():
            rows.extend(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return rows
    return [(prefix, value)]


def _section(
    name: str, summary: str, result: dict[str, Any] | None, error: str | None, seconds: float
) -> str:
    lines = [f"## {name}", "", summary, ""]
    if error:
        lines += ["**Failed:**", "", "```", error.strip(), "```", ""]
    else:
        lines += ["| measure | value |", "|---|---|"]
        lines += [
            f"| {key} | {json.dumps(value) if not isinstance(value, str) else value} |"
            for key, value in _flatten(result or {})
        ]
        lines.append("")
    lines += [_ran_line(seconds), ""]
    return "\n".join(lines)


def _ran_line(seconds: float) -> str:
    return f"_Ran {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} in {seconds:.1f} s._"


def _previous_sections() -> dict[str, str]:
    if not OUTPUT.exists():
        return {}
    sections: dict[str, str] = {}
    for chunk in OUTPUT.read_text().split("\n## ")[1:]:
        name = chunk.split("\n", 1)[0].strip()
        sections[name] = "## " + chunk.rstrip() + "\n"
    return sections


def _split_json_option(args: list[str]) -> tuple[list[str], Path | None]:
    if "--json" not in args:
        return args, None
    at = args.index("--json")
    if at + 1 >= len(args):
        raise SystemExit("--json needs a file path")
    return args[:at] + args[at + 2 :], Path(args[at + 1])


def main(argv: list[str] | None = None) -> int:
    names, json_path = _split_json_option(sys.argv[1:] if argv is None else argv)
    wanted = names or discover()
    sections = _previous_sections()
    results: dict[str, Any] = {}
    failures = 0
    for name in discover():
        if name not in wanted:
            continue
        module = importlib.import_module(f"tests.bench.{name}")
        summary = (module.__doc__ or name).strip().split("\n\n")[0].replace("\n", " ")
        print(f"running {name} …", file=sys.stderr, flush=True)
        start = time.perf_counter()
        result: dict[str, Any] | None = None
        error = None
        try:
            result = module.run()
        except Exception:  # one broken benchmark must not hide the others
            error = traceback.format_exc()
            failures += 1
        seconds = time.perf_counter() - start
        render = getattr(module, "section_markdown", None)
        if render is not None and result is not None and error is None:
            # a module that lays out its own section (side-by-side tables) replaces the flat table
            sections[name] = "\n".join(
                [f"## {name}", "", summary, "", render(result), _ran_line(seconds), ""]
            )
        else:
            sections[name] = _section(name, summary, result, error, seconds)
        results[name] = result if error is None else {"error": error}
        print(json.dumps(result, indent=2) if result else error, file=sys.stderr)
    header = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m tests.bench.run_all`). Numbers are from",
        "one shared, noisy machine: compare runs on the same machine only. Each section says when",
        "it ran; a run of some modules leaves the other sections as they were.",
        "",
        f"- Last written: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {machine()}",
        "",
    ]
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text("\n".join(header) + "\n" + "\n".join(sections[n] for n in sorted(sections)))
    print(f"wrote {OUTPUT.relative_to(REPO_ROOT)}", file=sys.stderr)
    if json_path is not None:
        json_path.write_text(json.dumps({"machine": machine(), "results": results}, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
