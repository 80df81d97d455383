"""Each path run records how BotScope's own client looked on the wire."""

from __future__ import annotations

from botscope.scanner.profiles import get_profile
from botscope.scanner.report import wire_record


def test_path_runs_record_our_own_wire_profile() -> None:

    browser = get_profile("browser")
    assert wire_record("browser", "HTTP/2", True) == {
        "profile_version": browser.version,
        "http_version": "HTTP/2",
        "ja4": browser.ja4,
    }
    assert wire_record("browser", "HTTP/1.1", False)["ja4"] is None  # no TLS, no ClientHello
    assert wire_record("http_client", "HTTP/1.1", True)["ja4"] is None  # not recorded: runtime OpenSSL
