"""Cold-start floors without timing: what importing a Lambda function module pulls in. The heavy
libraries (boto3, httpx, pydantic-settings, the Powertools batch utilities) are deferred to the first
invocation for the functions with a 250 ms import budget; the timings themselves are measured by
tests/bench/bench_cold_import.py (docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HEAVY = (
    "boto3",
    "botocore",
    "httpx",
    "pydantic_settings",
    "aws_xray_sdk",
    "aws_lambda_powertools.utilities.batch",
)
DEFERRING_FUNCTIONS = [
    "webhook_deliver",
    "scan_prepare",
    "scan_probe",
    "scan_analyze",
    "scan_finalize",
    "scan_mark_failed",
]

_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import app
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("function", DEFERRING_FUNCTIONS)
def test_importing_the_function_module_loads_no_heavy_library(function: str) -> None:
    directory = ROOT / "functions" / function
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(directory)],
        cwd=directory,
        capture_output=True,
        text=True,
        check=True,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"},
    )
    loaded = set(json.loads(out.stdout))
    assert [name for name in HEAVY if name in loaded] == []
    assert "app" in loaded
