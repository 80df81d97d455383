"""Issue 15 items 2 and 8: numbers a peer wrote are ASCII digits or nothing. A port written with
``²``, ``①`` or fullwidth ``１０``, and a bracketed host that is not IPv6 (``%5Bfoo%5D``), are
``invalid_target`` at every entry point (API scans, API webhooks, MCP, CLI), and a hostile link on
a scanned page costs only that link, never the plan."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from botscope.cli import EXIT_REJECTED, main
from botscope.errors import InvalidTarget
from botscope.numbers import ascii_int
from botscope.scanner.model import FetchResult
from botscope.scanner.plan import build_plan, extract_links
from botscope.scanner.targets import normalize_target
from botscope.webhooks.schedule import MAX_RETRY_AFTER_SECONDS, parse_retry_after

HOSTILE_URLS = [
    "https://example.com:²/",
    "https://example.com:①/",
    "https://example.com:１０/",
    "https://example.com:٣/",
    "https://example.com:+80/",
    "https://example.com: 80/",
    "https://example.com:8_0/",
    "http://%5Bfoo%5D/",
    "http://[foo]/",
    "https://%5B1.2.3.4%5D/",
]
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("text", ["²", "①", "１０", "٣", "+1", "-1", " 1", "1_0", "", "1" * 30])
def test_ascii_int_reads_only_ascii_digits(text: str) -> None:
    assert ascii_int(text) is None


def test_ascii_int_reads_ascii_digits() -> None:
    assert ascii_int("0080") == 80 and ascii_int("65535", max_digits=5) == 65535
    assert ascii_int("123456", max_digits=5) is None


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_normalize_rejects_non_ascii_ports_and_bracketed_names(url: str) -> None:
    with pytest.raises(InvalidTarget):
        normalize_target(url)


def test_ipv6_and_plain_ports_still_normalize() -> None:
    assert normalize_target("http://[::1]:8080/").host == "::1"
    assert normalize_target("https://example.com:0443/").port == 443


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("²", None),
        ("①", None),
        ("１０", None),
        ("-5", None),
        ("", None),
        ("soon", None),
        ("120", 120.0),
        ("9" * 40, float(MAX_RETRY_AFTER_SECONDS)),
        ("99999999", float(MAX_RETRY_AFTER_SECONDS)),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Mon, 99 Foo 99999 99:99:99 GMT", None),
    ],
)
def test_retry_after_never_raises(header: str, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_hostile_links_on_a_page_cost_only_themselves() -> None:
    target = normalize_target("https://shop.example/")
    page = (
        b'<a href="https://shop.example:\xc2\xb2/login">a</a> <a href="http://[x/signup">b</a>'
        b'<a href="https://shop.example:\xe2\x91\xa0/cart">c</a> <a href="//%5Bfoo%5D/account">d</a>'
        b'<a href="/search">ok</a>'
    )
    assert len(extract_links(page, target.url)) == 4  # "http://[x" cannot be joined: dropped alone
    result = FetchResult(url=target.url, final_url=target.url, status=200, body=page, body_size=len(page))
    plan = build_plan(target, "full", page=result)
    assert plan.discovered_paths == ["/search"]


@pytest.mark.parametrize("url", HOSTILE_URLS[:3] + ["http://%5Bfoo%5D/"])
def test_api_scans_and_webhooks_answer_422_invalid_target(
    api_client, workspace_factory, scan_edges, url
) -> None:
    _, key = workspace_factory("growth")
    for path, body in (
        ("/api/v1/scans", {"target_url": url}),
        ("/api/v1/webhooks", {"label": "x", "url": url, "event_types": ["scan.completed"]}),
    ):
        response = api_client.post(path, json=body, headers=bearer(key))
        assert response.status_code == 422, (path, response.text)
        assert response.json()["code"] == "invalid_target"


def test_mcp_answers_a_structured_invalid_target(api_client, workspace_factory, scan_edges) -> None:
    _, key = workspace_factory("growth")
    response = api_client.post(
        "/mcp",
        headers={**MCP_HEADERS, **bearer(key)},
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "create_scan", "arguments": {"target_url": "https://example.com:²/"}},
        },
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["isError"] is True
    assert result["structuredContent"]["error"]["code"] == "invalid_target"


@pytest.mark.parametrize("url", ["https://example.com:²/", "https://example.com:１０/", "http://%5Bfoo%5D/"])
def test_cli_prints_one_clean_line_and_exits_2(url: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    # In a thread of its own: the CLI's asyncio.run() leaves its thread without an event loop,
    # which later tests in this process (Mangum on the main thread) would trip over.
    with ThreadPoolExecutor(max_workers=1) as pool:
        code = pool.submit(main, ["scan", url, "--quiet"], stdout=out, stderr=err).result()
    assert code == EXIT_REJECTED
    assert err.getvalue().startswith("botscope: invalid_target:") and "Traceback" not in err.getvalue()
    assert out.getvalue() == ""
