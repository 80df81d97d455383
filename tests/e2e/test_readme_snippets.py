"""The README's Python client snippets (HTTP and MCP), extracted from README.md and run as a user
would paste them — in a fresh interpreter, with the dev.env variables and SITE — against the local
stack and a fixture site."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.site.server import FixtureSite

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def python_snippets() -> list[str]:
    text = README.read_text()
    section = text[text.index("### Python clients") :]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_readme_has_one_http_and_one_mcp_snippet() -> None:
    snippets = python_snippets()
    assert len(snippets) == 2
    assert "httpx.Client" in snippets[0] and "streamable_http_client" in snippets[1]


@pytest.mark.parametrize("index", [0, 1], ids=["http", "mcp"])
def test_readme_snippet_runs_against_the_local_stack(local_stack: Any, index: int) -> None:
    snippet = python_snippets()[index]
    with FixtureSite(scenario="kitchen_sink") as site:
        env = {
            **os.environ,
            "BOTSCOPE_API_URL": f"{local_stack.base_url}/api/v1",
            "BOTSCOPE_ENTERPRISE_API_KEY": local_stack.credentials.enterprise_api_key,
            "SITE": site.url("/"),
        }
        done = subprocess.run(
            [sys.executable, "-c", snippet], env=env, capture_output=True, text=True, timeout=300, check=False
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("completed"), done.stdout
