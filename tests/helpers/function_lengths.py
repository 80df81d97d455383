"""Lists the functions of the product code (layers/core/botscope, functions/) longer than a limit,
longest first: ``python -m tests.helpers.function_lengths [LIMIT]`` (default 60 lines, decorators and
docstring included). docs/architecture.md "Gates" explains the limit;
tests/unit/platform/test_function_lengths.py holds the product code to it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [ROOT / "layers/core/botscope", ROOT / "functions"]


def long_functions(limit: int = 60, roots: list[Path] | None = None) -> list[tuple[int, str]]:
    found = []
    for base in roots or PRODUCT:
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    length = (node.end_lineno or node.lineno) - start + 1
                    if length > limit:
                        found.append((length, f"{path.relative_to(base.parent)}:{node.lineno} {node.name}"))
    return sorted(found, reverse=True)


if __name__ == "__main__":
    for length, where in long_functions(int(sys.argv[1]) if len(sys.argv) > 1 else 60):
        print(f"{length:4d}  {where}")
