"""The import-linter contracts of pyproject.toml (the layering of docs/architecture.md and the
scanner's purity) hold, so an import cycle or an upward import fails `make test` as well as
`make lint`."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_contracts_cover_every_layer_and_the_scanner() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    named = {name.strip() for layer in layers for name in layer.split("|")}
    packages = {
        f"botscope.{p.name}"
        for p in (ROOT / "layers/core/botscope").iterdir()
        if p.is_dir() and (p / "__init__.py").exists() and p.name not in {"auth", "aws"}
    }
    assert packages <= named, packages - named
    assert any(c["type"] == "forbidden" and c["source_modules"] == ["botscope.scanner"] for c in contracts)


def test_lint_imports_keeps_every_contract() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
