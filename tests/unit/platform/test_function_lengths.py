"""No function of the product code is longer than 60 lines (docs/architecture.md "Gates")."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.function_lengths import long_functions


def test_no_product_function_is_over_60_lines() -> None:
    assert long_functions(60) == []


def test_the_check_counts_decorators_and_docstrings(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(57))
    (tmp_path / "module.py").write_text(
        f'@decorator\ndef long_one():\n    """Doc."""\n{body}\n    return x0\n'
    )
    assert [name.split(" ")[-1] for _, name in long_functions(60, [tmp_path])] == ["long_one"]  # 61 lines
    assert long_functions(61, [tmp_path]) == []
