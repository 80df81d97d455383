"""Move the browser profile to another curl_cffi Chrome target, headers and wire record together.

    make refresh-profile TARGET=chrome153        (or: python -m tests.helpers.refresh_profile chrome153)

Steps (all on loopback): record the target's own request headers (curl_cffi default headers),
point profiles.json's browser profile at the target (impersonate, browser_version, version,
description, headers, keeping Connection for HTTP/1.1), then fetch the wire recorder through the
scanner's own Fetcher and store the ClientHello's JA4 (with SNI and to an IP) and the HTTP/2
fingerprint it actually sent. Bump the profiles document version. Then run
``pytest tests/unit/scanner/test_profiles.py tests/integration/scanner/test_wire_profile.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from botscope.scanner import profiles as profiles_module
from botscope.scanner.fetch import Fetcher
from botscope.scanner.targets import NetworkPolicy

from tests.helpers.wire_recorder import Visit, WireRecorder, default_headers_of

PROFILES_JSON = Path(profiles_module.__file__).parent / "data" / "profiles.json"
LOCAL = NetworkPolicy.from_cidrs(["127.0.0.0/8"])
# Chrome's HTTP/1.1 casing of the header names curl_cffi records in lower case.
CASING = {
    "upgrade-insecure-requests": "Upgrade-Insecure-Requests",
    "user-agent": "User-Agent",
    "accept": "Accept",
    "sec-fetch-site": "Sec-Fetch-Site",
    "sec-fetch-mode": "Sec-Fetch-Mode",
    "sec-fetch-user": "Sec-Fetch-User",
    "sec-fetch-dest": "Sec-Fetch-Dest",
    "accept-encoding": "Accept-Encoding",
    "accept-language": "Accept-Language",
    "cache-control": "Cache-Control",
}


def _record(url_host: str, ca_file: str, recorder: WireRecorder) -> Visit:
    async def run() -> None:
        async with Fetcher(LOCAL, resolver=lambda host: ["127.0.0.1"], extra_ca_bundle=ca_file) as fetcher:
            result = await fetcher.fetch(f"https://{url_host}:{recorder.port}/", "browser")
            if result.error is not None:
                raise SystemExit(f"the recorder fetch failed: {result.error.code}")

    before = len(recorder.visits)
    asyncio.run(run())
    return recorder.visits[before]


def refresh(target: str) -> dict[str, str]:
    match = re.fullmatch(r"chrome(\d+)", target)
    if match is None:
        raise SystemExit("TARGET must be a desktop Chrome target of curl_cffi, e.g. chrome153")
    version = match.group(1)
    document = json.loads(PROFILES_JSON.read_text("utf-8"))
    browser = next(p for p in document["profiles"] if p["id"] == "browser")
    headers = [["Connection", "keep-alive"]] + [
        [CASING.get(n.lower(), n.lower()), v] for n, v in default_headers_of(target)
    ]
    browser.update(
        impersonate=target,
        browser_version=version,
        version=f"chrome-{version}-windows",
        headers=headers,
        description=re.sub(
            r"Chrome \d+|chrome\d+",
            lambda m: f"Chrome {version}" if " " in m.group(0) else target,
            browser["description"],
        ),
    )
    today = datetime.now(UTC)
    document["version"] = f"{today.year}.{today.month}.{int(document['version'].split('.')[-1]) + 1}"
    PROFILES_JSON.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    profiles_module._document.cache_clear()
    profiles_module.load_profiles.cache_clear()
    with tempfile.TemporaryDirectory() as tls_dir, WireRecorder(Path(tls_dir)) as recorder:
        named = _record("wire.test", str(recorder.ca_file), recorder)
        by_ip = _record("127.0.0.1", str(recorder.ca_file), recorder)
    if named.http2 is None:
        raise SystemExit("the browser profile did not use HTTP/2 with the recorder")
    browser["wire"] = {
        "ja4": named.ja4,
        "ja4_without_sni": by_ip.ja4,
        "http2_fingerprint": named.http2.akamai,
    }
    PROFILES_JSON.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return browser["wire"]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.helpers.refresh_profile chromeNNN")
    print(json.dumps(refresh(sys.argv[1]), indent=2))
