"""The report view (matrix columns, unknown profiles and outcomes), badges and Markdown escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from botscope.reporting.badge import badge_for, render_badge
from botscope.reporting.formats import md, parse_condition, to_markdown
from botscope.reporting.html import render_report_page
from botscope.reporting.view import ai_access, build_matrix, build_view


def run(path: str, profile: str, outcome: str | None, status: int | None = 200, kind: str = "page") -> dict:
    return {
        "path": path,
        "profile": profile,
        "kind": kind,
        "outcome": outcome,
        "http_status": status,
        "status": "completed",
        "error": None,
    }


REPORT = {
    "scan_job_id": "scan_x",
    "target_url": "https://example.com/",
    "scan_mode": "full",
    "summary": {"posture": "layered", "score": 50, "vendors": [], "measures_present": []},
    "path_runs": [
        run("/", "http_client", "served"),
        run("/", "signed_agent", "served"),
        run("/", "browser", "served"),
        run("/", "quantum_agent", "tarpitted"),
        run("/", "ai_crawler", "blocked", 403),
        run("/", "rendered", "challenged", 403),
        run("/login", "browser", "served"),
        run("/robots.txt", "browser", "served", kind="policy"),
    ],
}


def test_columns_follow_the_profile_order_and_keep_unknown_profiles() -> None:
    matrix = build_matrix(REPORT)
    assert matrix.profiles == [
        "browser",
        "rendered",
        "ai_crawler",
        "signed_agent",
        "http_client",
        "quantum_agent",
    ]
    assert [row.path for row in matrix.rows] == ["/", "/login"]  # policy files are listed apart
    unknown = matrix.cell("/", "quantum_agent")
    assert unknown is not None and unknown.style.text == "tarpitted" and unknown.style.icon == "?"
    not_probed = matrix.cell("/login", "ai_crawler")
    assert not_probed is not None and not_probed.style.text == "not probed" and not_probed.outcome is None
    assert matrix.rows[0].stopped_for_ai_only and not matrix.rows[1].stopped_for_ai_only


def test_missing_evidence_reads_unknown() -> None:
    view = build_view({"path_runs": []})
    assert (view.posture, view.score, view.target_url, view.ai_access) == (
        "unknown",
        None,
        "unknown",
        "unknown",
    )
    assert ("robots.txt", "unknown") in view.declared
    page = render_report_page({"path_runs": []})
    assert "No page was probed." in page and "unknown" in page


def test_ai_access() -> None:
    assert ai_access(REPORT) == "partial"
    assert ai_access({"path_runs": [run("/", "ai_agent", "blocked", 403)]}) == "blocked"
    assert ai_access({"path_runs": [run("/", "ai_agent", "served")]}) == "allowed"
    assert ai_access({"path_runs": [run("/", "browser", "served")]}) == "unknown"


def test_badges_are_escaped_svg() -> None:
    svg = render_badge("posture", '<script>alert(1)</script>"&')
    root = ET.fromstring(svg)  # well-formed: the value is escaped
    assert root.tag.endswith("svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    assert not any(el.tag.endswith("script") for el in root.iter())
    assert ">hardened<" in badge_for({"posture": "hardened"}, "posture")
    assert ">AI crawlers<" in badge_for({"ai_access": "blocked"}, "ai")


def test_markdown_makes_site_text_inert() -> None:
    assert md("<img src=x onerror=alert(1)>|[a](b)") == r"\<img src=x onerror=alert\(1\)\>\|\[a\]\(b\)"
    text = to_markdown({**REPORT, "target_url": "https://x/<b>"}, [parse_condition("ai-blocked")])
    assert "<b>" not in text and "| `ai-blocked` | ❌" in text
