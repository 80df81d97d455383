"""After a monitored scan completes: the MON item is updated, changes are confirmed, and
``monitoring.findings_changed`` is published exactly once per confirmed change (moto)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botscope import ids
from botscope.monitoring import hooks
from botscope.store import monitoring as store
from botscope.store import reports, scans
from botscope.store.monitoring import MonitoredUrl

from tests.unit.monitoring import reports as r

URL = "https://shop.example/"


class MonitoredSite:
    """One monitored URL whose scans complete with the reports we hand it."""

    def __init__(self, workspace_id: str) -> None:
        self.workspace_id = workspace_id
        self._ms = int(time.time() * 1000)
        record, _ = store.enroll(workspace_id, URL, cadence_seconds=3600)
        self.mon_id = record.monitored_url_id
        self.scan_ids: list[str] = []

    def complete(self, report: dict[str, Any]) -> scans.Scan:
        self._ms += 1000  # scan ids sort by creation time
        scan_id = ids.new_id("scan", self._ms)
        scans.create_scan(
            self.workspace_id,
            URL,
            "full",
            monitored_url_id=self.mon_id,
            deadline_seconds=900,
            scan_job_id=scan_id,
            trigger="monitoring",
        )
        report = {**report, "scan_job_id": scan_id}
        key = reports.put_report(scan_id, report)
        assert scans.mark_completed(
            scan_id, report_key=key, ruleset_version=report["ruleset_version"], summary=report["summary"]
        )
        scan = scans.get_scan(scan_id)
        hooks.after_scan_completed(scan, report)
        self.scan_ids.append(scan_id)
        return scan

    def item(self) -> MonitoredUrl:
        item = store.get_monitored(self.workspace_id, self.mon_id)
        assert item is not None
        return item


@pytest.fixture
def site(workspace_factory: Any) -> MonitoredSite:
    ws, _ = workspace_factory("enterprise")
    return MonitoredSite(ws["workspace_id"])


def changed_events(published: list) -> list[dict[str, Any]]:
    return [data for _, event_type, data in published if event_type == "monitoring.findings_changed"]


def test_unchanged_site_produces_no_event_and_keeps_the_summary_current(
    site: MonitoredSite, published: list
) -> None:
    base = r.base_report()
    for _ in range(4):
        site.complete(base)
    assert changed_events(published) == []
    item = site.item()
    assert item.last_scan_job_id == site.scan_ids[-1] and item.last_scanned_at
    assert (
        item.summary is not None and item.summary.posture == "layered" and item.summary.pending_changes == 0
    )
    assert item.last_evaluation is not None and item.last_evaluation.result == "unchanged"


def test_confirmed_change_is_published_once_with_ids_and_a_summary(
    site: MonitoredSite, published: list
) -> None:
    from botscope.webhooks.fanout import build_payload

    base = r.base_report()
    blocked = r.with_ai_block(base, "x")
    site.complete(base)
    site.complete(blocked)
    assert changed_events(published) == []
    assert site.item().summary.pending_changes >= 1
    site.complete(blocked)
    site.complete(blocked)
    (event,) = changed_events(published)
    assert event["monitored_url_id"] == site.mon_id and event["scan_job_id"] == site.scan_ids[2]
    assert event["first_seen_scan_job_id"] == site.scan_ids[1]
    assert event["since_scan_job_id"] == site.scan_ids[0]
    assert event["confirmation"] == "confirmed"
    assert event["summary"]["added"] >= 1 and event["summary"]["changed"] == 2
    robots = next(c for c in event["changes"] if c["key"] == "robots_txt.ai_agents")
    assert (robots["before"], robots["after"], robots["count"]) == ("allowed", "disallowed", 2)
    assert sorted(robots["names"]) == ["ClaudeBot", "GPTBot"]
    build_payload("monitoring.findings_changed", event, "2026-01-01T00:00:00Z")  # within the thin-payload cap
    assert site.item().outbox_event is None


def test_challenge_removed_from_login_is_published_at_once(site: MonitoredSite, published: list) -> None:
    base = r.base_report()
    site.complete(base)
    site.complete(r.without_finding(base, "x", "fp_challenge_login"))
    (event,) = changed_events(published)
    assert event["confirmation"] == "immediate" and event["summary"]["removed"] == 1
    assert event["changes"][0]["paths"] == ["/login"] and event["changes"][0]["measure"] == "challenge"


def test_a_repeated_finalize_publishes_nothing_twice(site: MonitoredSite, published: list) -> None:
    base = r.base_report()
    site.complete(base)
    gone = r.without_finding(base, "x", "fp_challenge_login")
    scan = site.complete(gone)
    hooks.after_scan_completed(scan, {**gone, "scan_job_id": scan.scan_job_id})
    assert len(changed_events(published)) == 1


def test_an_event_lost_between_write_and_publish_is_sent_by_the_next_evaluation(
    site: MonitoredSite, published: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botscope.webhooks import fanout

    base = r.base_report()
    site.complete(base)
    recorder = fanout.publish_event

    def down(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("SQS unavailable")

    monkeypatch.setattr(fanout, "publish_event", down)
    site.complete(r.without_finding(base, "x", "fp_challenge_login"))  # evaluation stored, publish failed
    assert site.item().outbox_event.data["confirmation"] == "immediate"
    monkeypatch.setattr(fanout, "publish_event", recorder)
    site.complete(r.without_finding(base, "x", "fp_challenge_login"))
    (event,) = changed_events(published)
    assert event["scan_job_id"] == site.scan_ids[1]
    assert site.item().outbox_event is None


def test_previous_report_is_the_last_completed_scan_of_the_url(site: MonitoredSite) -> None:
    base = r.base_report()
    first = site.complete(base)
    assert hooks.previous_report(first) is None  # the enrollment scan has no predecessor
    next_scan = scans.create_scan(
        site.workspace_id, URL, "full", monitored_url_id=site.mon_id, deadline_seconds=900
    )
    previous = hooks.previous_report(next_scan)
    assert previous is not None and previous["scan_job_id"] == first.scan_job_id
    assert hooks.previous_report(next_scan.model_copy(update={"monitored_url_id": None})) is None


def test_a_failed_scan_is_noted_and_is_not_a_change(site: MonitoredSite, published: list) -> None:
    base = r.base_report()
    blocked = r.with_ai_block(base, "x")
    site.complete(base)
    site.complete(blocked)
    failed = scans.create_scan(
        site.workspace_id, URL, "full", monitored_url_id=site.mon_id, deadline_seconds=900
    )
    scans.mark_failed(failed.scan_job_id, "internal_error", "boom")
    hooks.after_scan_failed(scans.get_scan(failed.scan_job_id))
    item = site.item()
    assert item.last_failed_scan_job_id == failed.scan_job_id and item.last_failure_code == "internal_error"
    assert item.summary.pending_changes >= 1 and changed_events(published) == []
    site.complete(blocked)  # the failure did not break the confirmation
    assert len(changed_events(published)) == 1


def test_a_url_released_while_its_scan_ran_is_left_alone(site: MonitoredSite, published: list) -> None:
    site.complete(r.base_report())
    store.release(site.workspace_id, site.mon_id)
    site.complete(r.without_finding(r.base_report(), "x", "fp_challenge_login"))
    assert store.get_monitored(site.workspace_id, site.mon_id) is None and changed_events(published) == []
