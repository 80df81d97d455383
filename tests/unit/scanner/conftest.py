"""Fixtures for the scanner unit tests: the clean fixture site on 127.0.0.1 with its canary server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.site import CanaryServer, FixtureSite


@pytest.fixture(scope="module")
def canary() -> Iterator[CanaryServer]:
    with CanaryServer() as server:
        yield server


@pytest.fixture
def site(canary: CanaryServer) -> Iterator[FixtureSite]:
    with FixtureSite("clean", canary_port=canary.port) as server:
        yield server
