"""The report page and the sample reports page in a real browser (system Chromium), served by the
whole local stack for scans of the fixture site, and a hostile site that tries to inject markup.

The screenshots are the README's (docs/report-page.png, docs/report-page-phone.png,
docs/sample-reports.png).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.site import FixtureSite
from tests.helpers.local_stack import running_local_stack
from tests.integration.reports import support

pytestmark = pytest.mark.e2e

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureSite]:
    with FixtureSite("kitchen_sink") as running:
        yield running


@pytest.fixture(scope="module")
def stack(site: FixtureSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    state = tmp_path_factory.mktemp("botscope")
    targets = state / "sample_targets.json"
    targets.write_text(
        json.dumps(
            {
                "targets": [
                    {"label": "Fixture shop", "slug": "shop", "target_url": "{origin}/"},
                    {"label": "Fixture login", "slug": "login", "target_url": "{origin}/login"},
                ]
            }
        )
    )
    env = {
        "BOTSCOPE_SAMPLE_TARGETS_FILE": str(targets),
        "BOTSCOPE_SAMPLE_TARGETS_ORIGIN": site.url("/").rstrip("/"),
    }
    with running_local_stack(state, extra_env=env) as running:
        yield running


def _scan(stack: Any, url: str, mode: str = "full") -> str:
    """A scan through the API (the growth workspace enrolls the URL), followed until it ends."""
    headers = {"Authorization": f"Bearer {stack.credentials.growth_api_key}"}
    with httpx.Client(base_url=stack.base_url, headers=headers, timeout=30) as client:
        created = client.post(
            "/api/v1/scans", json={"target_url": url, "scan_mode": mode, "enroll_monitoring": True}
        )
        assert created.status_code in (200, 202), created.text
        location = created.headers["Location"]
        deadline = time.monotonic() + 180  # a liveness bound, not a speed assertion
        while time.monotonic() < deadline:
            body = client.get(location).json()
            if body["status"] in ("completed", "failed"):
                assert body["status"] == "completed", body
                return str(body["scan_job_id"])
            time.sleep(0.3)
    raise AssertionError("the scan did not finish")


def _report(stack: Any, scan_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {stack.credentials.growth_api_key}"}
    return dict(httpx.get(f"{stack.base_url}/api/v1/scans/{scan_id}/report", headers=headers).json())


class Watch:
    """Everything a page must never do: open a dialog, or violate the CSP."""

    def __init__(self, page: Any) -> None:
        self.dialogs: list[str] = []
        self.csp: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.csp.append(message.text)


def _session_page(browser: Any, stack: Any, **context: Any) -> Any:
    ctx = browser.new_context(**context)
    ctx.add_cookies(
        [{"name": "botscope_session", "value": stack.credentials.session_token, "url": stack.base_url}]
    )
    return ctx.new_page()


def test_report_page_in_the_browser(browser: Any, stack: Any, site: FixtureSite) -> None:
    site.set_scenario("kitchen_sink")
    scan_id = _scan(stack, site.url("/"))
    report = _report(stack, scan_id)
    page = _session_page(browser, stack, viewport={"width": 1280, "height": 900})
    watch = Watch(page)
    response = page.goto(f"{stack.base_url}/reports/{scan_id}")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    # the stylesheet applied (so the CSP let it in): tinted matrix cells
    blocked = page.locator('tr[data-path="/"] td[data-profile="ai_crawler"]')
    assert "blocked (403)" in blocked.inner_text()
    assert blocked.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 225, 224)"
    served = page.locator('tr[data-path="/"] td[data-profile="browser"]')
    assert "served (200)" in served.inner_text()
    # every page probe of the report is one cell, with its outcome in words
    for run in (r for r in report["path_runs"] if r.get("kind") == "page"):
        cell = page.locator(f'tr[data-path="{run["path"]}"] td[data-profile="{run["profile"]}"]')
        assert run["outcome"].replace("_", " ") in cell.inner_text()
    headers = page.locator("table.matrix-table thead th").all_inner_texts()
    assert headers[:2] == ["Path", "Browser"] and "AI crawler" in headers
    # vendors by layer, posture, verdicts
    for vendor in report["summary"]["vendors"]:
        assert page.locator(f'tr.detection[data-vendor="{vendor}"]').count() >= 1
    assert page.locator(".posture").inner_text().strip().endswith(report["summary"]["posture"])
    assert page.locator('td.verdict[data-verdict="enforced"]').count() >= 1
    assert page.get_by_role("heading", name="Findings by severity").is_visible()
    assert watch.dialogs == [] and watch.csp == []
    page.screenshot(path=str(DOCS / "report-page.png"), full_page=False)
    # printable: the print stylesheet drops the site chrome and keeps the tables
    page.emulate_media(media="print")
    assert page.locator("header.site").is_hidden() and page.locator("table.matrix-table").is_visible()
    page.emulate_media(media="screen")
    phone = _session_page(
        browser, stack, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    phone.goto(f"{stack.base_url}/reports/{scan_id}")
    # readable on a phone: the page itself does not scroll sideways (only the tables do)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    phone.screenshot(path=str(DOCS / "report-page-phone.png"))
    page.context.close()
    phone.context.close()


def test_sample_reports_page_in_the_browser(browser: Any, stack: Any, site: FixtureSite) -> None:
    from botscope.monitoring import sample_reports
    from botscope.service.monitoring import refresh_sample_reports

    site.set_scenario("kitchen_sink")
    refresh_sample_reports()  # what the daily schedule does: one scan per configured target
    deadline = time.monotonic() + 180  # a liveness bound, not a speed assertion
    while not sample_reports.current()["tabs"] and time.monotonic() < deadline:
        time.sleep(0.5)
    listing = sample_reports.current()
    assert [t["label"] for t in listing["tabs"]] == ["Fixture shop", "Fixture login"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # no credentials at all
    page = context.new_page()
    watch = Watch(page)
    assert page.goto(f"{stack.base_url}/sample-reports").status == 200
    tabs = page.locator("nav.tabs a")
    assert tabs.count() == 2 and tabs.nth(0).get_attribute("aria-current") == "page"
    assert listing["generated_on"] in tabs.nth(0).inner_text()
    assert page.locator(f'article[data-scan="{listing["tabs"][0]["scan_job_id"]}"]').count() == 1
    assert "blocked" in page.locator('tr[data-path="/"] td[data-profile="ai_agent"]').inner_text()
    page.screenshot(path=str(DOCS / "sample-reports.png"))
    tabs.nth(1).click()
    page.wait_for_url("**tab=*")
    assert page.locator(f'article[data-scan="{listing["tabs"][1]["scan_job_id"]}"]').count() == 1
    assert page.locator("nav.tabs a").nth(1).get_attribute("aria-current") == "page"
    assert watch.dialogs == [] and watch.csp == []
    context.close()


def test_a_hostile_site_cannot_inject_into_any_page(browser: Any, stack: Any, site: FixtureSite) -> None:
    site.set_scenario(support.hostile_scenario())
    try:
        scan_id = _scan(stack, site.url("/"))
    finally:
        site.set_scenario("kitchen_sink")
    report = _report(stack, scan_id)
    assert "<script>alert(1)</script>" in json.dumps(report)  # the site's text did reach the report
    headers = {"Authorization": f"Bearer {stack.credentials.growth_api_key}"}
    share = httpx.post(f"{stack.base_url}/api/v1/scans/{scan_id}/share", headers=headers).json()
    page = _session_page(browser, stack)
    watch = Watch(page)
    for url in (
        f"{stack.base_url}/reports/{scan_id}",
        share["url"],
        share["badge_posture"],
        share["badge_ai"],
    ):
        page.goto(url)
        assert page.evaluate("document.querySelectorAll('script, iframe, object, embed').length") == 0
        assert (
            page.evaluate(
                "[...document.querySelectorAll('*')].filter(e => [...e.attributes]"
                ".some(a => a.name.startsWith('on'))).length"
            )
            == 0
        )
        assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    page.goto(f"{stack.base_url}/reports/{scan_id}")
    assert "<script>alert(1)</script>" in page.locator("body").inner_text()  # shown as text
    # the CSP holds even if markup got through: an inline script added by hand is refused
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text) as refused:
        page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'alert(9)';
                                 document.body.appendChild(s); }""")
    assert "script" in refused.value.text
    assert watch.dialogs == []
    page.context.close()
