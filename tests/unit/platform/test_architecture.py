"""The dependency direction of docs/architecture.md: functions → botscope adapters → botscope.scanner.
The scanner is pure: no AWS SDK, no Lambda types, no environment, no adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCANNER = ROOT / "layers/core/botscope/scanner"
FORBIDDEN_IN_SCANNER = (
    "boto3",
    "botocore",
    "aws_lambda_powertools",
    "mangum",
    "fastapi",
    "moto",
    "botscope.store",
    "botscope.api",
    "botscope.service",
    "botscope.config",
    "botscope.workflow",
    "botscope.local",
    "botscope.webhooks",
    "botscope.monitoring",
)


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


SCANNER_MODULES = sorted(SCANNER.rglob("*.py"))


@pytest.mark.parametrize("path", SCANNER_MODULES, ids=lambda p: p.name)
def test_scanner_imports_no_aws_code_and_no_adapters(path: Path) -> None:
    tree = ast.parse(path.read_text())
    bad = [
        name
        for name in _imports(tree)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IN_SCANNER)
    ]
    assert bad == [], f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", SCANNER_MODULES, ids=lambda p: p.name)
def test_scanner_reads_no_environment(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}:
            raise AssertionError(f"{path.name}:{node.lineno} reads the environment")


def test_the_scanner_package_is_not_empty() -> None:
    # Guards the two tests above against silently checking nothing after a move.
    assert len(SCANNER_MODULES) >= 10


@pytest.mark.parametrize("path", sorted((ROOT / "functions").glob("*/app.py")), ids=lambda p: p.parent.name)
def test_function_handlers_only_depend_on_the_core_package(path: Path) -> None:
    tree = ast.parse(path.read_text())
    local = [name for name in _imports(tree) if name.startswith("functions") or name == "app"]
    assert local == [], f"{path} imports another function's code: {local}"


def test_only_config_reads_the_environment_in_the_core_package() -> None:
    offenders = []
    for path in sorted((ROOT / "layers/core/botscope").rglob("*.py")):
        rel = path.relative_to(ROOT / "layers/core/botscope").as_posix()
        if rel in {"config.py"} or rel.startswith("local/"):
            continue  # the local stack sets up the process environment for the handlers it hosts
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}:
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == [], offenders
