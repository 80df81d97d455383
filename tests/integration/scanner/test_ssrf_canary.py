"""SSRF: every rejected form of a private target sends nothing; the canary must see zero requests.

The canary listens on 127.0.0.1. Without an allow-list every loopback spelling must be refused
before any connection; with 127.0.0.0/8 allowed (as the tests do for the fixture site), the
unspecified address 0.0.0.0 — which Linux routes to the local host — must still be refused.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from botscope.errors import InvalidTarget, TargetNotPublic
from botscope.scanner import engine
from botscope.scanner.targets import NetworkPolicy

BOTSCOPE = Path(sys.executable).parent / "botscope"

LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "2130706433",
    "0x7f.1",
    "0177.0.0.1",
    "127.1",
    "0x7f000001",
    "0x7f.0.0.1",
    "017700000001",
    "127.0.0.1.",
    "%31%32%37.0.0.1",
    "１２７．０．０．１",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::127.0.0.1]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
    "0.0.0.0",
    "0",
    "[::]",
    "[::1]",
    "localhost",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_loopback_spelling_is_rejected_and_sends_nothing(canary, host):
    url = f"http://{host}:{canary.port}/ssrf"
    with pytest.raises(TargetNotPublic):
        asyncio.run(engine.run_scan(url, "quick", NetworkPolicy()))
    assert canary.hits == []


@pytest.mark.parametrize("host", ["0.0.0.0", "0", "0x0", "[::]", "[::ffff:0.0.0.0]"])
def test_unspecified_address_is_rejected_even_with_loopback_allowed(canary, local_policy, host):
    with pytest.raises(TargetNotPublic):
        asyncio.run(engine.run_scan(f"http://{host}:{canary.port}/ssrf", "full", local_policy))
    assert canary.hits == []


@pytest.mark.parametrize("name", ["internal.test", "rebinding.test", "metadata.test"])
def test_names_resolving_to_private_space_are_rejected(canary, name):
    answers = {
        "internal.test": ["127.0.0.1"],
        "rebinding.test": ["93.184.215.14", "127.0.0.1"],
        "metadata.test": ["169.254.169.254"],
    }
    with pytest.raises(TargetNotPublic):
        asyncio.run(
            engine.run_scan(
                f"http://{name}:{canary.port}/", "quick", NetworkPolicy(), resolver=lambda host: answers[host]
            )
        )
    assert canary.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/",
        "http://user:pw@127.0.0.1/",
        "file:///etc/passwd",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:70000/",
    ],
)
def test_invalid_targets_are_rejected_with_their_code(canary, url):
    with pytest.raises(InvalidTarget) as info:
        asyncio.run(engine.run_scan(url, "quick", NetworkPolicy()))
    assert info.value.code == "invalid_target"
    assert canary.hits == []


@pytest.mark.parametrize("path", ["/to-private", "/to-decimal", "/to-metadata"])
def test_redirect_into_private_space_fails_the_path_run_not_the_canary(
    fixture_site, canary, local_policy, path
):
    fixture_site.set_scenario("clean")
    report = asyncio.run(engine.run_scan(fixture_site.url(path), "quick", local_policy))
    target_runs = [r for r in report["path_runs"] if r["path"] == path]
    assert len(target_runs) == 4
    # the run keeps the redirect it saw (outcome "redirected" or "error"), with the refusal as its error
    assert all(
        r["error"]["code"] == "target_not_public" and r["outcome"] in ("redirected", "error")
        for r in target_runs
    )
    assert canary.hits == []


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "[::ffff:127.0.0.1]", "localhost"])
def test_cli_rejects_and_sends_nothing(canary, host):
    result = subprocess.run(
        [str(BOTSCOPE), "scan", f"http://{host}:{canary.port}/", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "target_not_public" in result.stderr and result.stdout == ""
    assert canary.hits == []
