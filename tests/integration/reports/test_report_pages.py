"""The report page, share links, badges, the stylesheet and the sample reports page, served by the
API app on moto, for real scans of the fixture site."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.integration.reports import support

CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


class _Markup(HTMLParser):
    """Collects every tag and attribute of a page, to prove that nothing from the site became markup."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.cells: dict[tuple[str, str], str] = {}
        self._row: str | None = None
        self._cell: tuple[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        values = dict(attrs)
        if tag == "tr" and "data-path" in values:
            self._row = values["data-path"]
        if tag == "td" and self._row and "data-profile" in values and "data-outcome" in values:
            self._cell = (self._row, str(values["data-profile"]))
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell:
            self.cells.setdefault(self._cell, " ".join("".join(self._text).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell:
            self._text.append(data)


def parse(html: str) -> _Markup:
    parser = _Markup()
    parser.feed(html)
    return parser


@pytest.fixture
def kitchen(site: Any, aws: Any, workspace_factory: Any, session_for: Any) -> dict[str, Any]:
    site.set_scenario("kitchen_sink")
    ws, key = workspace_factory("enterprise")
    report = support.scan(site.url("/"), "full")
    scan_id = support.store_completed(ws["workspace_id"], report)
    return {
        "ws": ws,
        "key": key,
        "report": report,
        "scan_id": scan_id,
        "cookie": session_for(ws["workspace_id"]),
    }


def _page_headers_ok(response: Any) -> None:
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-type"].startswith("text/html")


def test_report_page_shows_the_matrix_vendors_and_verdicts(api_client: Any, kitchen: dict[str, Any]) -> None:
    response = api_client.get(
        f"/reports/{kitchen['scan_id']}", cookies={"botscope_session": kitchen["cookie"]}
    )
    assert response.status_code == 200
    _page_headers_ok(response)
    assert "no-store" in response.headers["cache-control"]
    page = parse(response.text)
    assert "script" not in page.tags and not any(name == "style" for name, _ in page.attrs)
    # the matrix: every page probe of the report is a cell with its outcome
    runs = [r for r in kitchen["report"]["path_runs"] if r.get("kind") == "page"]
    probed = [text for text in page.cells.values() if "not probed" not in text]
    assert runs and len(probed) == len(runs)
    for run in runs:
        text = page.cells[(run["path"], run["profile"])]
        assert text.startswith(("✓", "✕", "⚠", "⏱", "↪", "∅", "!", "?"))
        assert run["outcome"].replace("_", " ") in text and str(run["http_status"]) in text
    assert (
        "✕ blocked (403)" in page.cells[("/", "ai_crawler")]
        and "✓ served (200)" in page.cells[("/", "browser")]
    )
    assert 'scope="col"' in response.text and 'scope="row"' in response.text
    # vendors by layer, posture and the enforcement verdicts
    for vendor in kitchen["report"]["summary"]["vendors"]:
        assert f'data-vendor="{vendor}"' in response.text
    assert f'data-posture="{kitchen["report"]["summary"]["posture"]}"' in response.text
    assert 'data-family="ai_crawler"' in response.text and 'data-verdict="enforced"' in response.text
    # findings with their recommendations
    recommendation = next(
        f["recommendation"] for f in kitchen["report"]["findings"] if f.get("recommendation")
    )
    assert recommendation.split(";")[0] in response.text


def test_report_page_with_a_bearer_key_and_isolation(
    api_client: Any, kitchen: dict[str, Any], workspace_factory: Any, session_for: Any
) -> None:
    assert (
        api_client.get(
            f"/reports/{kitchen['scan_id']}", headers={"Authorization": f"Bearer {kitchen['key']}"}
        ).status_code
        == 200
    )
    other, other_key = workspace_factory("enterprise")
    for credentials in (
        {"cookies": {"botscope_session": session_for(other["workspace_id"])}},
        {"headers": {"Authorization": f"Bearer {other_key}"}},
    ):
        response = api_client.get(f"/reports/{kitchen['scan_id']}", **credentials)
        assert response.status_code == 404 and kitchen["report"]["target_url"] not in response.text
        _page_headers_ok(response)
    anonymous = api_client.get(f"/reports/{kitchen['scan_id']}")
    assert anonymous.status_code == 401 and "botscope_session" in anonymous.text
    assert (
        api_client.get("/reports/scan_nonsense", cookies={"botscope_session": kitchen["cookie"]}).status_code
        == 404
    )


def test_share_link_badges_and_revocation(
    api_client: Any, kitchen: dict[str, Any], workspace_factory: Any
) -> None:
    auth = {"Authorization": f"Bearer {kitchen['key']}"}
    scan_id = kitchen["scan_id"]
    assert api_client.get(f"/api/v1/scans/{scan_id}/share", headers=auth).status_code == 404
    created = api_client.post(f"/api/v1/scans/{scan_id}/share", headers=auth)
    assert created.status_code == 201, created.text
    share = created.json()
    token = share["url"].rsplit("/", 1)[1]
    assert re.fullmatch(r"shr_[0-9A-Za-z]{36}", token) and share["share_id"].startswith("shr_")
    # only the hash of the token is stored
    from botscope.store.table import table

    stored = str(table().scan()["Items"])
    assert token not in stored

    public = api_client.get(share["url"].replace("http://127.0.0.1:8000", ""))
    assert public.status_code == 200 and kitchen["report"]["target_url"] in public.text
    _page_headers_ok(public)
    assert public.headers["x-robots-tag"] == "noindex"
    assert api_client.get(f"/share/{token[:-1]}x").status_code == 404  # a wrong checksum: not even read

    listing = api_client.get(f"/api/v1/scans/{scan_id}/share", headers=auth).json()
    assert listing["share_id"] == share["share_id"] and "url" not in listing

    badge = api_client.get(f"/badges/{share['share_id']}.svg")
    assert badge.status_code == 200 and badge.headers["content-type"] == "image/svg+xml"
    assert (
        f">{kitchen['report']['summary']['posture']}<" in badge.text
        and "public, max-age=" in badge.headers["cache-control"]
    )
    etag = badge.headers["etag"]
    assert (
        api_client.get(f"/badges/{share['share_id']}.svg", headers={"If-None-Match": etag}).status_code == 304
    )
    ai_badge = api_client.get(f"/badges/{share['share_id']}.svg?kind=ai")
    assert "AI crawlers" in ai_badge.text and ai_badge.headers["etag"] != etag

    # another workspace can neither share, see nor revoke this scan's link
    _other, other_key = workspace_factory("enterprise")
    other = {"Authorization": f"Bearer {other_key}"}
    assert api_client.post(f"/api/v1/scans/{scan_id}/share", headers=other).status_code == 404
    assert api_client.get(f"/api/v1/scans/{scan_id}/share", headers=other).status_code == 404
    assert api_client.delete(f"/api/v1/scans/{scan_id}/share", headers=other).status_code == 404

    # a new link replaces the old one; DELETE revokes link and badge
    again = api_client.post(f"/api/v1/scans/{scan_id}/share", headers=auth).json()
    assert api_client.get(f"/share/{token}").status_code == 404
    assert api_client.get(f"/badges/{share['share_id']}.svg").status_code == 404
    assert api_client.delete(f"/api/v1/scans/{scan_id}/share", headers=auth).status_code == 204
    assert api_client.get(again["url"].replace("http://127.0.0.1:8000", "")).status_code == 404
    assert api_client.get(f"/badges/{again['share_id']}.svg").status_code == 404
    assert api_client.delete(f"/api/v1/scans/{scan_id}/share", headers=auth).status_code == 404


def test_a_shared_report_redacts_query_values_of_the_customer_url(
    api_client: Any, site: Any, aws: Any, workspace_factory: Any, session_for: Any
) -> None:
    """The customer's own report page keeps the URL it scanned; the public share page of the same
    report does not publish a secret carried in its query."""
    site.set_scenario("clean")
    ws, key = workspace_factory("enterprise")
    report = support.scan(site.url("/?token=s3cr3t-share-canary&lang=en"), "quick")
    scan_id = support.store_completed(ws["workspace_id"], report)
    own = api_client.get(f"/reports/{scan_id}", cookies={"botscope_session": session_for(ws["workspace_id"])})
    assert own.status_code == 200 and "s3cr3t-share-canary" in own.text
    share = api_client.post(
        f"/api/v1/scans/{scan_id}/share", headers={"Authorization": f"Bearer {key}"}
    ).json()
    public = api_client.get(share["url"].replace("http://127.0.0.1:8000", ""))
    assert public.status_code == 200
    assert "s3cr3t-share-canary" not in public.text and "token=redacted" in public.text


def test_a_scan_that_is_not_finished_cannot_be_shared(
    api_client: Any, aws: Any, workspace_factory: Any
) -> None:
    from botscope.store import scans

    ws, key = workspace_factory("enterprise")
    scan = scans.create_scan(ws["workspace_id"], "https://example.com/", "full", deadline_seconds=600)
    response = api_client.post(
        f"/api/v1/scans/{scan.scan_job_id}/share", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 409 and response.json()["code"] == "scan_not_ready"


def test_stylesheet_is_cached_and_revalidated(api_client: Any, aws: Any) -> None:
    css = api_client.get("/static/report.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "max-age=86400" in css.headers["cache-control"] and "@media print" in css.text
    assert (
        api_client.get("/static/report.css", headers={"If-None-Match": css.headers["etag"]}).status_code
        == 304
    )


def test_monitored_url_timeline(
    api_client: Any, site: Any, aws: Any, workspace_factory: Any, session_for: Any
) -> None:
    from botscope.store import monitoring

    site.set_scenario("clean")
    ws, _key = workspace_factory("enterprise")
    monitored, _new = monitoring.enroll(
        ws["workspace_id"], site.url("/"), cadence_seconds=3600, first_scan_job_id=None
    )
    first = support.scan(site.url("/"), "quick")
    support.store_completed(ws["workspace_id"], first, monitored_url_id=monitored.monitored_url_id)
    site.set_scenario("ai_blocked")
    import asyncio

    from botscope import ids
    from botscope.scanner.engine import run_scan

    second = asyncio.run(
        run_scan(site.url("/"), "quick", support.LOCAL, scan_job_id=ids.new_id("scan"), previous_report=first)
    )
    support.store_completed(ws["workspace_id"], second, monitored_url_id=monitored.monitored_url_id)
    page = api_client.get(
        f"/reports/{second['scan_job_id']}", cookies={"botscope_session": session_for(ws["workspace_id"])}
    )
    assert page.status_code == 200
    assert (
        f'data-scan="{first["scan_job_id"]}"' in page.text
        and f'href="/reports/{first["scan_job_id"]}"' in page.text
    )
    added = len(second["changes"]["added"])
    assert added > 0 and f"{added} added" in page.text


def test_sample_reports_page(
    api_client: Any, site: Any, aws: Any, state_machine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.set_scenario("kitchen_sink")
    empty = api_client.get("/sample-reports")
    assert empty.status_code == 200 and "No sample reports have been published yet" in empty.text
    listing = support.publish_sample_day(site.url("/"), tmp_path / "targets.json", monkeypatch)
    assert len(listing["tabs"]) == 2
    page = api_client.get("/sample-reports")
    assert page.status_code == 200 and "public" in page.headers["cache-control"]
    _page_headers_ok(page)
    first, second = listing["tabs"]
    assert f'data-tab="{first["tab_id"]}"' in page.text and 'aria-current="page"' in page.text
    assert f'data-scan="{first["scan_job_id"]}"' in page.text and listing["generated_on"] in page.text
    other = api_client.get(f"/sample-reports?tab={second['tab_id']}")
    assert f'data-scan="{second["scan_job_id"]}"' in other.text
    # nothing private: no workspace id and no cookie value of the site
    assert "ws_samples" not in other.text and "fixtureDatadomeValue" not in other.text

    # the next day starts; until all of its scans are done, the page keeps this day's tabs
    from datetime import UTC, datetime, timedelta

    from botscope.monitoring import sample_reports
    from botscope.store import scans

    def start_only(target_url: str, scan_job_id: str) -> None:
        scans.create_scan(
            sample_reports.SAMPLES_WORKSPACE_ID,
            target_url,
            "quick",
            deadline_seconds=600,
            scan_job_id=scan_job_id,
            trigger="samples",
        )

    assert (
        sample_reports.refresh(datetime.now(UTC) + timedelta(days=1), starter=start_only)["action"]
        == "started"
    )
    later = api_client.get("/sample-reports")
    assert f'data-tab="{first["tab_id"]}"' in later.text and listing["generated_on"] in later.text


def test_hostile_site_is_escaped_everywhere(
    api_client: Any, site: Any, aws: Any, workspace_factory: Any, session_for: Any
) -> None:
    site.set_scenario(support.hostile_scenario())
    ws, key = workspace_factory("enterprise")
    report = support.scan(site.url("/"), "full")
    scan_id = support.store_completed(ws["workspace_id"], report)
    assert "<script>alert(1)</script>" in json.dumps(report)  # the site's text did reach the report
    page = api_client.get(
        f"/reports/{scan_id}", cookies={"botscope_session": session_for(ws["workspace_id"])}
    )
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # shown, as text
    markup = parse(page.text)
    assert "script" not in markup.tags and "img" not in markup.tags
    assert not any(name.startswith("on") for name, _ in markup.attrs)
    share = api_client.post(
        f"/api/v1/scans/{scan_id}/share", headers={"Authorization": f"Bearer {key}"}
    ).json()
    shared = api_client.get(share["url"].replace("http://127.0.0.1:8000", ""))
    assert "script" not in parse(shared.text).tags
    badge = api_client.get(f"/badges/{share['share_id']}.svg")
    assert "<script" not in badge.text


def test_every_page_and_share_route_is_declared_in_the_template() -> None:
    """API Gateway only forwards declared routes: each HTML page and share route has its event."""
    from botscope.aws.template import load_template

    events = load_template()["Resources"]["ApiFunction"]["Properties"]["Events"]
    declared = {
        (e["Properties"]["Method"], e["Properties"]["Path"])
        for e in events.values()
        if e["Type"] == "HttpApi"
    }
    assert {
        ("GET", "/reports/{id}"),
        ("GET", "/share/{token}"),
        ("GET", "/sample-reports"),
        ("GET", "/badges/{file}"),
        ("GET", "/static/report.css"),
        ("POST", "/api/v1/scans/{id}/share"),
        ("GET", "/api/v1/scans/{id}/share"),
        ("DELETE", "/api/v1/scans/{id}/share"),
    } <= declared
