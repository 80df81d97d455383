"""The browser profile is the Chrome version it names, on the wire: a scan against a loopback
HTTPS + HTTP/2 recorder (test CA trusted through the extra-CA-bundle setting, verification on)
sees the JA4 and HTTP/2 fingerprint the profile data records; http_client does not look like
Chrome; where Debian's chromium is installed, its own hello is recorded side by side."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from botscope.scanner.engine import run_scan
from botscope.scanner.fetch import Fetcher
from botscope.scanner.profiles import get_profile
from botscope.scanner.targets import NetworkPolicy

from tests.helpers.wire_recorder import WireRecorder, ja4_parts

LOCAL = NetworkPolicy.from_cidrs(["127.0.0.0/8"])
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def to_loopback(host: str) -> list[str]:
    return ["127.0.0.1"]


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[WireRecorder]:
    with WireRecorder(tmp_path) as server:
        yield server


def test_a_scan_shows_the_recorded_chrome_ja4_and_http2_fingerprint(recorder: WireRecorder):
    browser = get_profile("browser")
    report = asyncio.run(
        run_scan(
            f"https://wire.test:{recorder.port}/",
            "quick",
            LOCAL,
            resolver=to_loopback,
            extra_ca_bundle=str(recorder.ca_file),
        )
    )
    wire = {run["profile"]: run["wire"] for run in report["path_runs"] if run["path"] == "/"}
    assert wire["browser"] == {
        "profile_version": browser.version,
        "http_version": "HTTP/2",
        "ja4": browser.ja4,
    }
    assert wire["http_client"]["http_version"] == "HTTP/1.1" and wire["http_client"]["ja4"] is None
    # Chrome offers h2 first; the httpcore profiles offer only http/1.1.
    chrome = [v for v in recorder.visits if v.hello.alpn[:1] == ["h2"]]
    plain = [v for v in recorder.visits if v.hello.alpn == ["http/1.1"]]
    assert chrome and plain and len(chrome) + len(plain) == len(recorder.visits)
    # The first connection is a full handshake: exactly the recorded JA4. Later ones may resume
    # the TLS session (pre_shared_key extension), as Chrome's do: same ciphers, one more extension.
    assert chrome[0].ja4 == browser.ja4
    assert {v.ja4.split("_")[1] for v in chrome} == {browser.ja4.split("_")[1]}
    assert all(v.alpn == "h2" and v.hello.server_name == "wire.test" for v in chrome)
    preface = next(v.http2 for v in chrome if v.http2 is not None and v.http2.pseudo_header_order)
    assert preface.akamai == browser.http2_fingerprint
    expected_names = [n.lower() for n, _ in browser.headers if n.lower() != "connection"]
    assert preface.header_names == expected_names
    assert all(v.ja4.split("_")[1] != browser.ja4.split("_")[1] for v in plain)
    assert all(v.alpn == "http/1.1" for v in plain)


def test_http_client_does_not_produce_chromes_ja4(recorder: WireRecorder):
    async def run() -> tuple[str | None, str | None]:
        async with Fetcher(LOCAL, resolver=to_loopback, extra_ca_bundle=str(recorder.ca_file)) as fetcher:
            plain = await fetcher.fetch(f"https://wire.test:{recorder.port}/", "http_client")
            chrome = await fetcher.fetch(f"https://wire.test:{recorder.port}/", "browser")
            return plain.http_version, chrome.http_version

    plain_version, chrome_version = asyncio.run(run())
    assert (plain_version, chrome_version) == ("HTTP/1.1", "HTTP/2")
    plain_visit, chrome_visit = recorder.visits
    assert chrome_visit.ja4 == get_profile("browser").ja4
    assert plain_visit.ja4 != chrome_visit.ja4
    assert plain_visit.ja4.split("_")[1] != chrome_visit.ja4.split("_")[1]  # other cipher list too


def test_an_unknown_ca_is_refused_not_ignored(tmp_path: Path):
    with WireRecorder(tmp_path) as server:

        async def run() -> str | None:
            async with Fetcher(LOCAL, resolver=to_loopback) as fetcher:  # no extra CA bundle
                result = await fetcher.fetch(f"https://wire.test:{server.port}/", "browser")
                return result.error.code if result.error else None

        assert asyncio.run(run()) == "connection_failed"
        assert all(v.http2 is None or not v.http2.pseudo_header_order for v in server.visits)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_side_by_side_with_chromium(recorder: WireRecorder, tmp_path: Path):
    """Chromium's own hello to the same recorder by name. Same TLS version, SNI, ALPN h2 and
    HTTP/2 fingerprint family; the numbers are printed for the benchmark notes."""
    assert CHROMIUM is not None
    profile_dir = tmp_path / "chromium-profile"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile_dir}",
        "--ignore-certificate-errors",
        "--host-resolver-rules=MAP wire.test 127.0.0.1",
        "--dump-dom",
        f"https://wire.test:{recorder.port}/",
    ]
    subprocess.run(command, capture_output=True, timeout=90, check=False)  # noqa: S603 - fixed argv
    chromium_visits = [v for v in recorder.visits if v.hello.server_name == "wire.test"]
    assert chromium_visits, "chromium reached the recorder"
    chromium = chromium_visits[0]

    async def run() -> None:
        async with Fetcher(LOCAL, resolver=to_loopback, extra_ca_bundle=str(recorder.ca_file)) as fetcher:
            await fetcher.fetch(f"https://wire.test:{recorder.port}/", "browser")

    asyncio.run(run())
    ours = recorder.visits[-1]
    print(f"\nchromium JA4 {chromium.ja4}  browser profile JA4 {ours.ja4}")
    if chromium.http2 is not None and ours.http2 is not None:
        print(f"chromium HTTP/2 {chromium.http2.akamai}  browser profile HTTP/2 {ours.http2.akamai}")
    theirs_a, ours_a = ja4_parts(chromium.hello)[0], ja4_parts(ours.hello)[0]
    assert theirs_a[:4] == ours_a[:4] == "t13d"  # TLS 1.3, SNI
    assert theirs_a[-2:] == ours_a[-2:] == "h2"  # ALPN h2 first
    assert abs(int(theirs_a[4:6]) - int(ours_a[4:6])) <= 2  # cipher list of the same family
    assert chromium.alpn == ours.alpn == "h2"
    if chromium.http2 is not None and chromium.http2.pseudo_header_order and ours.http2 is not None:
        assert chromium.http2.pseudo_header_order == ours.http2.pseudo_header_order
