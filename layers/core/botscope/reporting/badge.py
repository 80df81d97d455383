"""Shields-style SVG badges: ``posture: hardened`` or ``AI crawlers: blocked``.

Every text is XML-escaped and the SVG has no script, link or external reference; widths are
estimated from the character count (the badge is an at-a-glance image, not typography).
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

BADGE_KINDS = ("posture", "ai")
_COLOURS = {
    "hardened": "#1a7f37",
    "layered": "#0969da",
    "basic": "#9a6700",
    "none": "#cf222e",
    "blocked": "#1a7f37",
    "partial": "#9a6700",
    "allowed": "#6e7781",
    "unknown": "#6e7781",
}
_CHAR_WIDTH = 7
_PADDING = 10


def render_badge(label: str, value: str) -> str:
    label = label[:40]
    value = value[:40]
    left = len(label) * _CHAR_WIDTH + 2 * _PADDING
    right = len(value) * _CHAR_WIDTH + 2 * _PADDING
    width = left + right
    colour = _COLOURS.get(value, "#6e7781")
    title = f"{label}: {value}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f"aria-label={quoteattr(title)}>"
        f"<title>{escape(title)}</title>"
        f'<rect width="{left}" height="20" fill="#3d444d"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<g fill="#ffffff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">'
        f'<text x="{left // 2}" y="14">{escape(label)}</text>'
        f'<text x="{left + right // 2}" y="14">{escape(value)}</text></g></svg>'
    )


def badge_for(report_summary: dict[str, str], kind: str) -> str:
    """``report_summary`` holds ``posture`` and ``ai_access`` (``botscope.reporting.view.ai_access``)."""
    if kind == "ai":
        return render_badge("AI crawlers", report_summary.get("ai_access") or "unknown")
    return render_badge("posture", report_summary.get("posture") or "unknown")


def etag_of(svg: str) -> str:
    import hashlib

    return hashlib.sha256(svg.encode()).hexdigest()[:32]
