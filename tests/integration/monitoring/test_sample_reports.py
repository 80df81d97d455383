"""The public sample reports: daily refresh, publication when all tabs are ready, the no-auth API."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botscope.config import reset_settings
from botscope.monitoring import hooks, sample_reports
from botscope.service.monitoring import refresh_sample_reports
from botscope.store import reports, samples, scans
from botscope.store.table import utcnow

from tests.unit.monitoring import reports as r

TODAY = utcnow()
YESTERDAY = TODAY - timedelta(days=1)


@pytest.fixture
def targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state_machine: str) -> Path:
    path = tmp_path / "targets.json"
    path.write_text(
        json.dumps(
            {
                "targets": [
                    {"label": "Fixture home", "target_url": "{origin}/"},
                    {"label": "Fixture login", "slug": "login", "target_url": "{origin}/login"},
                ]
            }
        )
    )
    monkeypatch.setenv("BOTSCOPE_SAMPLE_TARGETS_FILE", str(path))
    monkeypatch.setenv("BOTSCOPE_SAMPLE_TARGETS_ORIGIN", "http://127.0.0.1:8123")
    reset_settings()
    return path


def finish(tab: dict[str, Any], *, ok: bool = True) -> None:
    scan_id = tab["scan_job_id"]
    if ok:
        report = {**r.base_report(), "scan_job_id": scan_id, "target_url": tab["target_url"]}
        scans.mark_completed(
            scan_id,
            report_key=reports.put_report(scan_id, report),
            ruleset_version=report["ruleset_version"],
            summary=report["summary"],
        )
        hooks.after_scan_completed(scans.get_scan(scan_id), report)
    else:
        scans.mark_failed(scan_id, "internal_error", "boom")
        hooks.after_scan_failed(scans.get_scan(scan_id))


def day_tabs(day: Any) -> list[dict[str, Any]]:
    item = samples.get_day(day.date().isoformat())
    assert item is not None
    return [tab.to_dict() for tab in item.tabs]


def test_targets_come_from_configuration(targets: Path) -> None:
    assert sample_reports.load_targets() == [
        {"label": "Fixture home", "target_url": "http://127.0.0.1:8123/", "slug": "fixture-home"},
        {"label": "Fixture login", "target_url": "http://127.0.0.1:8123/login", "slug": "login"},
    ]
    packaged = sample_reports.load_targets(str(sample_reports.PACKAGED_TARGETS))
    assert packaged and all(t["target_url"].startswith("https://") for t in packaged)


def test_local_mode_defaults_to_the_fixture_site_and_never_to_real_sites(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BOTSCOPE_SAMPLE_TARGETS_FILE", raising=False)
    monkeypatch.setenv("BOTSCOPE_LOCAL_MODE", "true")
    monkeypatch.delenv("BOTSCOPE_SAMPLE_TARGETS_ORIGIN", raising=False)
    reset_settings()
    assert sample_reports.load_targets() == []  # no fixture origin configured: nothing to scan
    monkeypatch.setenv("BOTSCOPE_SAMPLE_TARGETS_ORIGIN", "http://127.0.0.1:9999/")
    reset_settings()
    local = sample_reports.load_targets()
    assert local and all(t["target_url"].startswith("http://127.0.0.1:9999/") for t in local)
    reset_settings()


def test_a_day_is_started_once_and_published_when_all_scans_finished(
    targets: Path, api_client: Any, executions: Any
) -> None:
    assert api_client.get("/api/v1/sample-reports").json() == {"generated_on": None, "tabs": []}
    started = refresh_sample_reports(YESTERDAY)
    assert started["action"] == "started" and started["scans"] == 2
    assert refresh_sample_reports(YESTERDAY)["action"] == "waiting"  # a second run starts nothing
    tabs = day_tabs(YESTERDAY)
    assert sorted(executions()) == sorted(t["scan_job_id"] for t in tabs)
    assert all(
        scans.get_scan(t["scan_job_id"]).workspace_id == sample_reports.SAMPLES_WORKSPACE_ID for t in tabs
    )

    finish(tabs[0])
    assert api_client.get("/api/v1/sample-reports").json()["tabs"] == []  # not all ready yet
    finish(tabs[1])  # the last scan's Finalize publishes the day
    body = api_client.get("/api/v1/sample-reports").json()
    assert body["generated_on"] == YESTERDAY.date().isoformat()
    ymd = YESTERDAY.strftime("%Y%m%d")
    assert body["tabs"] == [
        {
            "tab_id": f"{ymd}-fixture-home",
            "label": "Fixture home",
            "target_url": "http://127.0.0.1:8123/",
            "scan_job_id": tabs[0]["scan_job_id"],
        },
        {
            "tab_id": f"{ymd}-login",
            "label": "Fixture login",
            "target_url": "http://127.0.0.1:8123/login",
            "scan_job_id": tabs[1]["scan_job_id"],
        },
    ]
    report = api_client.get(f"/api/v1/sample-reports/{ymd}-login")
    assert report.status_code == 200 and report.json()["scan_job_id"] == tabs[1]["scan_job_id"]
    assert report.json()["target_url"] == "http://127.0.0.1:8123/login"


def test_yesterdays_tabs_remain_until_todays_are_all_ready(targets: Path, api_client: Any) -> None:
    refresh_sample_reports(YESTERDAY)
    for tab in day_tabs(YESTERDAY):
        finish(tab)
    yesterday = api_client.get("/api/v1/sample-reports").json()

    refresh_sample_reports(TODAY)
    today_tabs = day_tabs(TODAY)
    finish(today_tabs[0])
    assert refresh_sample_reports(TODAY, start_new_day=False)["action"] == "waiting"
    assert api_client.get("/api/v1/sample-reports").json() == yesterday
    old_tab = yesterday["tabs"][0]["tab_id"]
    assert api_client.get(f"/api/v1/sample-reports/{old_tab}").status_code == 200

    finish(today_tabs[1], ok=False)  # a failed target does not hold the day back; its tab is left out
    body = api_client.get("/api/v1/sample-reports").json()
    assert body["generated_on"] == TODAY.date().isoformat()
    assert [t["scan_job_id"] for t in body["tabs"]] == [today_tabs[0]["scan_job_id"]]
    # Yesterday's tab ids still resolve while the day is kept.
    assert api_client.get(f"/api/v1/sample-reports/{old_tab}").status_code == 200


def test_unknown_or_unpublished_tab_is_404(targets: Path, api_client: Any) -> None:
    refresh_sample_reports(YESTERDAY)
    ymd = YESTERDAY.strftime("%Y%m%d")
    for tab in (f"{ymd}-login", "20200101-nothing", "not a tab", "x" * 300):
        response = api_client.get(f"/api/v1/sample-reports/{tab}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_the_scheduler_function_publishes_a_finished_day(
    targets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refresh_sample_reports(TODAY)
    for tab in day_tabs(TODAY):
        scan_id = tab["scan_job_id"]
        report = {**r.base_report(), "scan_job_id": scan_id}
        scans.mark_completed(
            scan_id,
            report_key=reports.put_report(scan_id, report),
            ruleset_version=report["ruleset_version"],
            summary=report["summary"],
        )
    assert sample_reports.current()["tabs"] == []  # no Finalize hook ran: nothing published yet
    assert refresh_sample_reports(start_new_day=False)["action"] == "published"
    assert len(sample_reports.current()["tabs"]) == 2
