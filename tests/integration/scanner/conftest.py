"""Scanner integration fixtures: the fixture site and the SSRF canary, both on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botscope.scanner.targets import NetworkPolicy

from tests.fixtures.site import CanaryServer, FixtureSite

# Tests only: the fixture site lives on loopback, which production never allows.
LOCAL_POLICY = NetworkPolicy.from_cidrs(["127.0.0.0/8"])


@pytest.fixture(scope="module")
def canary() -> Iterator[CanaryServer]:
    with CanaryServer() as server:
        yield server


@pytest.fixture(scope="module")
def fixture_site(canary: CanaryServer) -> Iterator[FixtureSite]:
    """One server per test module; tests switch scenarios with ``fixture_site.set_scenario``."""
    with FixtureSite("clean", canary_port=canary.port) as site:
        yield site


@pytest.fixture
def local_policy() -> NetworkPolicy:
    return LOCAL_POLICY
