"""The Lambda layer holds what production runs: `sam build` builds CoreLayer with
layers/core/Makefile, which leaves out the local stack (botscope.local) and the monitoring
simulation (docs/architecture.md "Deployment"). Checked on the package part of the real build
recipe, run into a temporary directory."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest
from botscope.aws.template import resource

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "layers/core/botscope"
DEV_ONLY = ("local/", "monitoring/simulation.py")


@pytest.fixture(scope="module")
def layer_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifacts = tmp_path_factory.mktemp("CoreLayer")
    subprocess.run(
        ["make", "-s", "-C", str(ROOT / "layers/core"), "layer-source", f"ARTIFACTS_DIR={artifacts}"],
        check=True,
        capture_output=True,
    )
    return artifacts / "python" / "botscope"


def _files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_sam_builds_the_layer_with_the_recipe_that_drops_dev_code() -> None:
    layer = resource("CoreLayer")
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Properties"]["ContentUri"].rstrip("/") == "layers/core"
    assert "build-CoreLayer:" in (ROOT / "layers/core/Makefile").read_text()


def test_the_layer_has_no_local_stack_and_no_simulation(layer_package: Path) -> None:
    shipped = _files(layer_package)
    assert [f for f in shipped if f.startswith(DEV_ONLY)] == []
    assert not (layer_package / "local").exists()


def test_the_layer_has_everything_else_of_the_package(layer_package: Path) -> None:
    expected = {f for f in _files(SOURCE) if not f.startswith(DEV_ONLY)}
    assert _files(layer_package) == expected
    assert {"__init__.py", "api/app.py", "workflow/stages.py", "monitoring/scheduler.py"} <= expected


def test_no_shipped_module_imports_dev_only_code(layer_package: Path) -> None:
    offenders = []
    for path in layer_package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(
                n == "botscope.local"
                or n.startswith("botscope.local.")
                or n == "botscope.monitoring.simulation"
                for n in names
            ):
                offenders.append(f"{path.relative_to(layer_package)}:{node.lineno}")
    assert offenders == []
