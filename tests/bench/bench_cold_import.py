"""Benchmark: cold import time of every Lambda function module (functions/<name>/app.py), each in a
fresh interpreter with precompiled bytecode (as ``sam build`` ships it) and a Lambda-like
environment. Targets (issue 2): API < 500 ms, scan stages and webhook delivery < 250 ms.

Stage handlers and the webhook delivery handler defer boto3, pydantic-settings and the X-Ray SDK to their first invocation (see
``botscope.workflow.handler``); ``first_call_setup_ms`` measures that deferred part, so the sum is
the whole init a cold start pays.

Run: ``.venv/bin/python -m tests.bench.bench_cold_import`` (``run()`` returns the numbers).
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
TARGETS_MS = {"api": 500.0, "webhook_deliver": 250.0}
STAGE_TARGET_MS = 250.0
STAGES = ("scan_prepare", "scan_probe", "scan_analyze", "scan_finalize", "scan_mark_failed")
RUNS = 7

# What a function defers to its first invocation (measured as ``first_call_setup``).
_STAGE_SETUP = """
from botscope.workflow import stages
from botscope.workflow.handler import _instrument
_instrument(lambda event, context: None)
"""
_WEBHOOK_DELIVER_SETUP = """
from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor
from botscope.observability import metrics
from botscope.webhooks import delivery
metrics.log_metrics(app._process_batch)
"""
DEFERRED_SETUP = {**{stage: _STAGE_SETUP for stage in STAGES}, "webhook_deliver": _WEBHOOK_DELIVER_SETUP}

_IMPORT = """
import sys, time
sys.path.insert(0, {directory!r})
t = time.perf_counter()
import app
imported = time.perf_counter()
exec({setup!r})
setup = time.perf_counter() - imported
print((imported - t) * 1000, setup * 1000)
"""


def _lambda_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOTSCOPE_", "POWERTOOLS_", "AWS_"))}
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_SERVICE_NAME": "botscope",
            "POWERTOOLS_METRICS_NAMESPACE": "BotScope",
            "BOTSCOPE_TABLE_NAME": "bench",
            "BOTSCOPE_REPORTS_BUCKET": "bench",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def _measure(directory: Path, setup: str) -> tuple[list[float], list[float]]:
    imports, setups = [], []
    code = _IMPORT.format(directory=str(directory), setup=setup)
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=_lambda_env(),
            cwd=directory,
            timeout=120,
            check=True,
        ).stdout.split()
        imports.append(float(out[0]))
        setups.append(float(out[1]))
    return imports, setups


def run() -> dict[str, Any]:
    compileall.compile_dir(str(REPO_ROOT / "layers" / "core"), quiet=1)
    compileall.compile_dir(str(FUNCTIONS_DIR), quiet=1)
    results: dict[str, Any] = {"runs_per_function": RUNS}
    for directory in sorted(p for p in FUNCTIONS_DIR.iterdir() if (p / "app.py").exists()):
        name = directory.name
        deferred = name in DEFERRED_SETUP
        imports, setups = _measure(directory, DEFERRED_SETUP.get(name, ""))
        target = TARGETS_MS.get(name, STAGE_TARGET_MS if deferred else None)
        median = statistics.median(imports)
        entry: dict[str, Any] = {
            "import_median_ms": round(median, 1),
            "import_max_ms": round(max(imports), 1),
            "target_ms": target,
            "meets_target": None if target is None else median < target,
        }
        if deferred:
            entry["first_call_setup_median_ms"] = round(statistics.median(setups), 1)
        results[name] = entry
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
