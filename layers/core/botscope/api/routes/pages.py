"""HTML pages outside ``/api/v1``: the report page, shared reports, the sample reports page, badges
and the stylesheet. Thin: the service layer (``botscope.service.reports``) decides what may be
shown; ``botscope.reporting`` renders it. Pages are not part of the API's OpenAPI document.

Every page carries a strict Content-Security-Policy (no script at all, styles only from
``/static/report.css``), ``X-Content-Type-Options: nosniff`` and ``frame-ancestors 'none'``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from botscope.api.deps import get_principal
from botscope.errors import BotScopeError
from botscope.reporting import badge, html
from botscope.service import reports as service

pages = APIRouter(include_in_schema=False)

STYLESHEET_MAX_AGE = 86400
BADGE_MAX_AGE = 300
SAMPLES_MAX_AGE = 300


def _html(
    body: str, status: int = 200, cache: str = "no-store", extra: dict[str, str] | None = None
) -> HTMLResponse:
    headers = {**html.PAGE_HEADERS, "Cache-Control": cache, **(extra or {})}
    return HTMLResponse(body, status_code=status, headers=headers)


def _error_page(exc: BotScopeError) -> HTMLResponse:
    titles = {401: "Sign in to see this report", 404: "Not found", 409: "Report not ready"}
    message = exc.message
    if exc.status == 401:
        message = (
            "This page needs your workspace's session cookie (botscope_session) or an API key; "
            "share links work without one."
        )
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "retry-after"}
    return _html(
        html.render_error_page(titles.get(exc.status, exc.title), message), exc.status, extra=headers
    )


async def _page(render: Callable[[], HTMLResponse]) -> HTMLResponse:
    try:
        return await run_in_threadpool(render)
    except BotScopeError as exc:
        return _error_page(exc)


def _not_modified(request: Request, etag: str, headers: dict[str, str]) -> Response | None:
    candidates = [t.strip() for t in (request.headers.get("if-none-match") or "").split(",")]
    if etag in candidates or "*" in candidates:
        return Response(status_code=304, headers={**headers, "ETag": etag})
    return None


@pages.get("/reports/{scan_job_id}", response_class=HTMLResponse)
async def report_page(scan_job_id: str, request: Request) -> HTMLResponse:
    def render() -> HTMLResponse:
        principal = get_principal(request)
        report, timeline = service.report_page(principal, scan_job_id)
        return _html(
            html.render_report_page(report, timeline=timeline, link_scans=True), cache="private, no-store"
        )

    return await _page(render)


@pages.get("/share/{token}", response_class=HTMLResponse)
async def shared_report_page(token: str) -> HTMLResponse:
    def render() -> HTMLResponse:
        report = service.shared_report(token)
        return _html(html.render_report_page(report), cache="no-store", extra={"X-Robots-Tag": "noindex"})

    return await _page(render)


@pages.get("/sample-reports", response_class=HTMLResponse)
async def sample_reports_page(tab: str | None = None) -> HTMLResponse:
    def render() -> HTMLResponse:
        listing, selected, report = service.sample_page(tab[:120] if tab else None)
        return _html(
            html.render_sample_reports_page(listing, selected, report),
            cache=f"public, max-age={SAMPLES_MAX_AGE}",
        )

    return await _page(render)


@pages.api_route("/badges/{share_id}.svg", methods=["GET", "HEAD"])
async def badge_svg(share_id: str, request: Request, kind: str = "posture") -> Response:
    if kind not in badge.BADGE_KINDS:
        kind = "posture"
    try:
        values = await run_in_threadpool(service.badge_values, share_id)
    except BotScopeError as exc:
        svg = badge.render_badge("BotScope", "not found")
        return Response(
            svg,
            status_code=exc.status,
            media_type="image/svg+xml",
            headers={
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'",
            },
        )
    svg = badge.badge_for(values, kind)
    etag = '"' + badge.etag_of(svg) + '"'
    headers = {
        "Cache-Control": f"public, max-age={BADGE_MAX_AGE}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
    }
    return _not_modified(request, etag, headers) or Response(
        svg, media_type="image/svg+xml", headers={**headers, "ETag": etag}
    )


@pages.api_route("/static/report.css", methods=["GET", "HEAD"])
async def stylesheet(request: Request) -> Response:
    body, digest = html.stylesheet()
    etag = f'"{digest}"'
    headers = {"Cache-Control": f"public, max-age={STYLESHEET_MAX_AGE}", "X-Content-Type-Options": "nosniff"}
    return _not_modified(request, etag, headers) or Response(
        body, media_type="text/css; charset=utf-8", headers={**headers, "ETag": etag}
    )


def mount(app: FastAPI) -> None:
    app.include_router(pages)
