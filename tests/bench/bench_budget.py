"""Benchmark (performance budget): cold import time of each Lambda function module, and the size of the core layer and of each function package, each against a stated budget.

Method for sizes (no Docker here, so no real ``sam build``): the layer is what ``sam build``
puts in it — the ``botscope`` package (layers/core/botscope, without bytecode caches) plus every
distribution ``pip`` would install from layers/core/requirements.txt, i.e. the pinned
requirements and their transitive runtime dependencies (environment markers evaluated), measured
from the files each installed distribution records (``importlib.metadata``) in this venv. The
zipped size is a real in-memory ZIP (deflate) of those same files. The venv is CPython 3.11 while
Lambda runs 3.12: compiled wheels differ by a few percent. Function packages are the
functions/<name>/ directories. Lambda's hard limits: 250 MB unzipped for a function with all its
layers, 50 MB zipped for a direct upload.

Cold import: each ``functions/<name>/app.py`` imported in a fresh interpreter (median of
``RUNS``), with bytecode precompiled as a build ships it. Budgets from issue 2: API < 500 ms,
everything else < 250 ms. ``tests/bench/bench_cold_import.py`` has the detailed breakdown.

Run: ``.venv/bin/python -m tests.bench.bench_budget`` (``run()`` returns the numbers).
"""

from __future__ import annotations

import compileall
import io
import json
import os
import re
import statistics
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import Requirement

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYER_REQUIREMENTS = REPO_ROOT / "layers" / "core" / "requirements.txt"
LAYER_PACKAGE = REPO_ROOT / "layers" / "core" / "botscope"
# Left out of the layer by its build recipe (layers/core/Makefile, DEV_ONLY).
LAYER_DEV_ONLY = ("local/", "monitoring/simulation.py")
RUNS = 3
MIB = 1024 * 1024

BUDGET = {
    "layer_unzipped_mib": 150.0,  # leaves 100 MB of Lambda's 250 MB for functions and growth
    "layer_zipped_mib": 50.0,  # direct-upload limit; keeps deploys simple
    "function_unzipped_kib": 256.0,  # handlers are thin: code lives in the layer
    "import_api_ms": 500.0,
    "import_other_ms": 250.0,
}
# Shipped in the layer because requirements.txt pins them, though the Lambda runtime has its own.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lambda_marker_env() -> dict[str, str]:
    env = dict(default_environment())
    env.update(
        {
            "python_version": "3.12",
            "python_full_version": "3.12.0",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "platform_machine": "x86_64",
            "implementation_name": "cpython",
        }
    )
    return env


def layer_distributions() -> dict[str, metadata.Distribution]:
    """Every distribution pip installs for the layer: the requirements and their runtime closure."""
    env = _lambda_marker_env()
    wanted = [
        Requirement(line.strip())
        for line in LAYER_REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    found: dict[str, metadata.Distribution] = {}
    queue = [(req, frozenset(req.extras)) for req in wanted]
    while queue:
        req, extras = queue.pop()
        name = _canonical(req.name)
        if name in found:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        found[name] = dist
        for text in dist.requires or []:
            dep = Requirement(text)
            if dep.marker is None or any(dep.marker.evaluate({**env, "extra": e}) for e in (extras or {""})):
                queue.append((dep, frozenset(dep.extras)))
    return found


def _dist_files(dist: metadata.Distribution) -> list[Path]:
    files = []
    for entry in dist.files or []:
        path = Path(str(entry.locate()))
        if "__pycache__" in path.parts or not path.is_file():
            continue
        files.append(path)
    return files


def _tree_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]


def _size(files: list[Path]) -> int:
    return sum(p.stat().st_size for p in files)


def _zipped(files: list[Path]) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for n, path in enumerate(files):
            archive.write(path, arcname=f"f{n}")
    return buffer.tell()


def sizes() -> dict[str, Any]:
    dists = layer_distributions()
    per_dist = {name: _dist_files(dist) for name, dist in dists.items()}
    package_files = [
        p
        for p in _tree_files(LAYER_PACKAGE)
        if not p.relative_to(LAYER_PACKAGE).as_posix().startswith(LAYER_DEV_ONLY)
    ]
    all_files = package_files + [f for files in per_dist.values() for f in files]
    unzipped = _size(all_files)
    runtime_provided = sum(_size(per_dist[n]) for n in per_dist if n in RUNTIME_PROVIDED)
    zipped = _zipped(all_files)
    wire_client = [f for n in ("curl-cffi", "cffi", "pycparser") if n in per_dist for f in per_dist[n]]
    largest = sorted(((n, _size(f)) for n, f in per_dist.items()), key=lambda item: -item[1])[:8]
    functions = {
        d.name: round(_size(_tree_files(d)) / 1024, 1)
        for d in sorted(FUNCTIONS_DIR.iterdir())
        if d.is_dir() and (d / "app.py").exists()
    }
    return {
        "layer": {
            "distributions": len(dists),
            "botscope_package_kib": round(_size(package_files) / 1024, 1),
            "unzipped_mib": round(unzipped / MIB, 1),
            "zipped_mib": round(zipped / MIB, 1),
            "runtime_provided_share_mib": round(runtime_provided / MIB, 1),
            "largest_mib": {name: round(size / MIB, 1) for name, size in largest},
            # the browser profile's wire client: curl_cffi's manylinux binary (libcurl-impersonate,
            # BoringSSL) and its cffi runtime
            "wire_client_unzipped_mib": round(_size(wire_client) / MIB, 1),
            "wire_client_zipped_mib": round(_zipped(wire_client) / MIB, 1),
            "within_budget": unzipped / MIB <= BUDGET["layer_unzipped_mib"]
            and zipped / MIB <= BUDGET["layer_zipped_mib"],
        },
        "functions_unzipped_kib": functions,
        "functions_within_budget": all(v <= BUDGET["function_unzipped_kib"] for v in functions.values()),
    }


_IMPORT = "import sys, time\nsys.path.insert(0, {d!r})\nt = time.perf_counter()\nimport app\nprint((time.perf_counter() - t) * 1000)\n"


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
            "BOTSCOPE_TABLE_NAME": "bench",
            "BOTSCOPE_REPORTS_BUCKET": "bench",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def imports() -> dict[str, Any]:
    compileall.compile_dir(str(REPO_ROOT / "layers" / "core"), quiet=1)
    compileall.compile_dir(str(FUNCTIONS_DIR), quiet=1)
    results: dict[str, Any] = {}
    for directory in sorted(d for d in FUNCTIONS_DIR.iterdir() if (d / "app.py").exists()):
        samples = []
        for _ in range(RUNS):
            out = subprocess.run(
                [sys.executable, "-c", _IMPORT.format(d=str(directory))],
                capture_output=True,
                text=True,
                env=_lambda_env(),
                cwd=directory,
                timeout=120,
                check=True,
            ).stdout
            samples.append(float(out.split()[-1]))
        budget = BUDGET["import_api_ms"] if directory.name == "api" else BUDGET["import_other_ms"]
        median = statistics.median(samples)
        results[directory.name] = {
            "median_ms": round(median, 1),
            "budget_ms": budget,
            "within_budget": median <= budget,
        }
    return results


def run() -> dict[str, Any]:
    cold = imports()
    return {
        "budget": BUDGET,
        "sizes": sizes(),
        "cold_import": cold,
        "all_imports_within_budget": all(v["within_budget"] for v in cold.values()),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
