"""Report tests: the fixture site on 127.0.0.1 (one per module) and real scans of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.site import FixtureSite


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureSite]:
    with FixtureSite("kitchen_sink") as running:
        yield running


@pytest.fixture
def session_for(aws: Any) -> Any:
    """``session_for(workspace_id)`` → a botscope_session cookie value."""
    from botscope.store import credentials

    return lambda workspace_id: credentials.create_session(workspace_id, "tester").secret
