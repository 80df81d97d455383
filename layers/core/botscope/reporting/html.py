"""Server-side HTML of reports (Jinja2, autoescaping on) and the headers every page carries.

The pages have no script at all and no inline style: the Content-Security-Policy allows only the
stylesheet served by the app (``/static/report.css``) and ``data:`` images, so markup that a
scanned site managed to slip into a report (a title, a header, a path) can neither run nor style
anything, on top of being escaped.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from botscope.reporting.view import build_view, profile_label

_HERE = Path(__file__).parent
TEMPLATES = _HERE / "templates"
STYLESHEET = _HERE / "static" / "report.css"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _percent(value: Any) -> str:
    return f"{round(float(value) * 100)} %" if isinstance(value, int | float) else "unknown"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals.update(profile_label=profile_label, percent=_percent, css_version=stylesheet()[1][:12])
    return env


@lru_cache(maxsize=1)
def stylesheet() -> tuple[bytes, str]:
    """The stylesheet and its strong ETag value (a content hash, so a new release busts caches)."""
    body = STYLESHEET.read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:32]


def render_report_page(
    report: dict[str, Any], *, timeline: list[dict[str, Any]] | None = None, link_scans: bool = False
) -> str:
    view = build_view(report, timeline)
    return environment().get_template("report.html").render(view=view, link_scans=link_scans)


def render_sample_reports_page(
    listing: dict[str, Any], selected: str | None, report: dict[str, Any] | None
) -> str:
    tabs = list(listing.get("tabs") or [])
    label = next((t["label"] for t in tabs if t.get("tab_id") == selected), "")
    return (
        environment()
        .get_template("samples.html")
        .render(
            tabs=tabs,
            generated_on=listing.get("generated_on"),
            selected=selected,
            selected_label=label,
            view=build_view(report) if report is not None else None,
        )
    )


def render_error_page(title: str, message: str) -> str:
    return environment().get_template("error.html").render(title=title, message=message)
