"""The monitoring entities declare every attribute their repositories write (docs/data-model.md):
each stored item is read straight from the moto table after the repository wrote it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botscope.store import monitoring as store
from botscope.store import samples
from botscope.store.monitoring import (
    ChangeEntry,
    ChangeRecord,
    DynamoScheduleStore,
    LastEvaluation,
    MonitoredUrl,
    MonitoringSummary,
    OutboxEvent,
    ScheduleClaim,
)
from botscope.store.samples import SampleDay, SampleTab
from botscope.store.table import iso, table, utcnow, ws_pk

from tests.helpers.entities import undeclared_attributes
from tests.integration.monitoring.conftest import make_due, past
from tests.integration.monitoring.test_change_events import MonitoredSite
from tests.unit.monitoring import reports as r


def raw_item(pk: str, sk: str) -> dict[str, Any]:
    item = table().get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
    assert item is not None
    return dict(item)


def raw_monitored(workspace_id: str, monitored_url_id: str) -> dict[str, Any]:
    return raw_item(ws_pk(workspace_id), f"MON#{monitored_url_id}")


def test_the_monitored_url_declares_what_enrollment_settings_and_the_scheduler_write(
    workspace_factory: Any,
) -> None:
    ws, _ = workspace_factory("enterprise")
    workspace_id = ws["workspace_id"]
    record, created = store.enroll(workspace_id, "https://a.example/", cadence_seconds=3600)
    assert created and isinstance(record, MonitoredUrl)
    assert undeclared_attributes(MonitoredUrl, raw_monitored(workspace_id, record.monitored_url_id)) == set()
    mon_id = record.monitored_url_id

    store.update_settings(workspace_id, mon_id, paused=True, scan_mode="quick")
    store.update_settings(workspace_id, mon_id, paused=False)
    assert store.claim_manual_rescan(workspace_id, mon_id, min_interval_seconds=60) is None
    make_due(workspace_id, mon_id, past())
    schedule = DynamoScheduleStore()
    (due,) = [i for shard in range(schedule.shards) for i in schedule.due(shard, iso(utcnow()), 10)]
    claim = ScheduleClaim(due_at=due.next_scan_at, scan_job_id="scan_x", attempts=1, claimed_at=iso(utcnow()))
    lease = iso(utcnow() + timedelta(minutes=10))
    assert schedule.claim(due, lease_until=lease, claim=claim)
    claimed = raw_monitored(workspace_id, mon_id)
    assert undeclared_attributes(MonitoredUrl, claimed) == set()
    assert undeclared_attributes(ScheduleClaim, claimed["claim"]) == set()
    assert store.get_monitored(workspace_id, mon_id).claim == claim

    held = store.get_monitored(workspace_id, mon_id)
    assert schedule.confirm(
        held, scan_job_id="scan_x", due_at=claim.due_at, next_scan_at=lease, started_at=lease
    )
    confirmed = store.get_monitored(workspace_id, mon_id)
    assert schedule.skip(
        confirmed, next_scan_at=iso(utcnow() + timedelta(hours=1)), reason="workspace_cancelled"
    )
    store.record_failed_scan(workspace_id, mon_id, "scan_y", iso(utcnow()), "internal_error")

    final = raw_monitored(workspace_id, mon_id)
    assert undeclared_attributes(MonitoredUrl, final) == set()
    entity = MonitoredUrl.from_item(final)
    assert (entity.scan_mode, entity.paused, entity.claim) == ("quick", False, None)
    assert (entity.last_started_scan_job_id, entity.last_skipped_reason) == ("scan_x", "workspace_cancelled")
    assert (entity.last_failed_scan_job_id, entity.last_failure_code) == ("scan_y", "internal_error")
    assert entity.last_manual_rescan_at is not None and entity.last_due_at == claim.due_at


def test_the_monitored_url_and_the_change_history_declare_what_change_detection_writes(
    workspace_factory: Any, published: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botscope.webhooks import fanout

    ws, _ = workspace_factory("enterprise")
    site = MonitoredSite(ws["workspace_id"])
    base = r.base_report()
    site.complete(base)
    recorder = fanout.publish_event

    def down(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("SQS unavailable")

    # The event of an immediate change stays in the outbox when its publication fails.
    monkeypatch.setattr(fanout, "publish_event", down)
    site.complete(r.without_finding(base, "x", "fp_challenge_login"))
    evaluated = raw_monitored(site.workspace_id, site.mon_id)
    assert undeclared_attributes(MonitoredUrl, evaluated) == set()
    assert undeclared_attributes(OutboxEvent, evaluated["outbox_event"]) == set()
    assert undeclared_attributes(LastEvaluation, evaluated["last_evaluation"]) == set()
    assert undeclared_attributes(MonitoringSummary, evaluated["summary"]) == set()

    monkeypatch.setattr(fanout, "publish_event", recorder)
    site.complete(base)  # publishes the outbox, records the change in the history
    scan_id = site.scan_ids[1]
    change = raw_item(ws_pk(site.workspace_id), f"MONCHG#{site.mon_id}#{scan_id}")
    assert undeclared_attributes(ChangeRecord, change) == set()
    assert undeclared_attributes(ChangeEntry, change["entry"]) == set()

    entries, has_more = store.list_changes(site.workspace_id, site.mon_id, limit=10)
    (event,) = [data for _, kind, data in published if kind == "monitoring.findings_changed"]
    assert not has_more and [e.scan_job_id for e in entries] == [scan_id]
    detected_at = entries[0].detected_at
    assert entries[0].to_dict() == {**event, "detected_at": detected_at}


def test_the_sample_day_declares_what_starting_and_publishing_a_day_write(aws: Any) -> None:
    now = utcnow()
    day = now.date().isoformat()
    tabs = [
        SampleTab(
            tab_id="20260101-home", label="Home", target_url="https://a.example/", scan_job_id="scan_a"
        ),
        SampleTab(
            tab_id="20260101-login", label="Login", target_url="https://b.example/", scan_job_id="scan_b"
        ),
    ]
    assert samples.start_day(day, tabs, now=now)
    assert not samples.start_day(day, tabs[:1], now=now)  # started once
    started = raw_item(samples.SAMPLES_PK, f"DAY#{day}")
    assert undeclared_attributes(SampleDay, started) == set()
    assert all(undeclared_attributes(SampleTab, tab) == set() for tab in started["tabs"])

    samples.publish_day(day, tabs[1:], now=now)
    assert undeclared_attributes(SampleDay, raw_item(samples.SAMPLES_PK, f"DAY#{day}")) == set()
    assert undeclared_attributes(SampleDay, raw_item(samples.SAMPLES_PK, "CURRENT")) == set()
    assert samples.get_day(day) == SampleDay(generated_on=day, tabs=tabs, published=True, created_at=iso(now))
    assert samples.get_current() == SampleDay(generated_on=day, tabs=tabs[1:], published_at=iso(now))
    # An older day never replaces the current one.
    earlier = (now - timedelta(days=1)).date().isoformat()
    samples.publish_day(earlier, tabs, now=now)
    current = samples.get_current()
    assert current is not None and current.generated_on == day
