"""The scheduler on the real table design (moto): sharded due index, conditional claims, the real
scan starter (scan item + active marker + StartExecution on a moto state machine)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from botscope.monitoring.scheduler import Scheduler, SchedulerConfig
from botscope.service.monitoring import start_scheduled_scan
from botscope.store import monitoring as store
from botscope.store import scans
from botscope.store.monitoring import DynamoScheduleStore
from botscope.store.table import iso, utcnow

from tests.integration.monitoring.conftest import make_due, past

NO_PACING = SchedulerConfig(max_starts_per_second=0, run_budget_seconds=300, claim_lease_seconds=600)


def enroll_due(workspace_id: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        record, created = store.enroll(workspace_id, f"https://site{i}.example/", cadence_seconds=86400)
        assert created
        make_due(workspace_id, record.monitored_url_id, past(60 + i))
        ids.append(record.monitored_url_id)
    return ids


def run_scheduler(**kw: Any) -> Any:
    return Scheduler(DynamoScheduleStore(), start_scheduled_scan, NO_PACING, sleep=lambda s: None, **kw).run()


def test_two_schedulers_started_at_once_start_each_due_scan_exactly_once(
    workspace_factory: Any, atomic_dynamodb: None, executions: Any
) -> None:
    ws, _ = workspace_factory("enterprise")
    mon_ids = enroll_due(ws["workspace_id"], 40)
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def run() -> None:
        barrier.wait()
        results.append(run_scheduler())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    started = executions()
    assert len(started) == 40 and len(set(started)) == 40
    assert sum(r.started for r in results) == 40
    for mon_id in mon_ids:
        item = store.get_monitored(ws["workspace_id"], mon_id)
        assert item is not None and item.claim is None
        assert item.last_started_scan_job_id in started
        assert item.next_scan_at > (utcnow() + timedelta(minutes=50)).isoformat()  # enterprise: hourly
        scan = scans.get_scan(item.last_started_scan_job_id)
        assert scan is not None and scan.monitored_url_id == mon_id and scan.trigger == "monitoring"
    # Nothing is due any more: a third run starts nothing.
    assert run_scheduler().started == 0 and len(executions()) == 40


def test_a_growth_url_is_rescanned_without_enrollment_as_the_system_actor(
    workspace_factory: Any, state_machine: str, executions: Any
) -> None:
    from botscope.store import audit as audit_store

    ws, _ = workspace_factory("growth")
    (mon_id,) = enroll_due(ws["workspace_id"], 1)
    assert run_scheduler().started == 1
    (scan_id,) = executions()
    scan = scans.get_scan(scan_id)
    assert scan is not None and scan.status == "queued" and scan.execution_arn
    assert scans.get_active(ws["workspace_id"], scan.target_url) == scan_id
    records, _ = audit_store.list_records(ws["workspace_id"], limit=10)
    (started,) = [a for a in records if a.action == "scan.started"]
    assert (started.target, started.actor) == (scan_id, "system:scheduler")
    item = store.get_monitored(ws["workspace_id"], mon_id)
    assert item.next_scan_at > (utcnow() + timedelta(hours=23)).isoformat()  # growth: daily


def test_a_running_scan_of_the_url_serves_the_due_time(
    workspace_factory: Any, state_machine: str, executions: Any
) -> None:
    ws, _ = workspace_factory("enterprise")
    (mon_id,) = enroll_due(ws["workspace_id"], 1)
    url = store.get_monitored(ws["workspace_id"], mon_id).target_url
    user_scan = scans.create_scan(
        ws["workspace_id"], url, "full", monitored_url_id=mon_id, deadline_seconds=900
    )
    assert scans.claim_active(ws["workspace_id"], url, user_scan.scan_job_id) is None
    stats = run_scheduler()
    assert stats.reused_running == 1 and executions() == []
    assert store.get_monitored(ws["workspace_id"], mon_id).next_scan_at > utcnow().isoformat()


def test_a_crash_between_claim_and_start_is_retried_with_the_same_scan(
    workspace_factory: Any, state_machine: str, executions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botscope.workflow import starter

    ws, _ = workspace_factory("enterprise")
    (mon_id,) = enroll_due(ws["workspace_id"], 1)
    real = starter.start_scan_execution

    def unavailable(scan_job_id: str, workspace_id: str) -> str:
        raise RuntimeError("StartExecution throttled")

    monkeypatch.setattr(starter, "start_scan_execution", unavailable)
    assert run_scheduler().start_failures == 1
    claim = store.get_monitored(ws["workspace_id"], mon_id).claim
    monkeypatch.setattr(starter, "start_scan_execution", real)
    # Within the lease nothing happens; after it, the same scan id is started once.
    assert run_scheduler().started == 0
    later = utcnow() + timedelta(seconds=NO_PACING.claim_lease_seconds + 5)
    Scheduler(
        DynamoScheduleStore(), start_scheduled_scan, NO_PACING, clock=lambda: later, sleep=lambda s: None
    ).run()
    assert executions() == [claim.scan_job_id]
    item = store.get_monitored(ws["workspace_id"], mon_id)
    assert item.claim is None and item.last_due_at == claim.due_at


def test_released_url_is_not_rescanned(workspace_factory: Any, state_machine: str, executions: Any) -> None:
    ws, _ = workspace_factory("growth")
    kept, released = enroll_due(ws["workspace_id"], 2)
    store.release(ws["workspace_id"], released)
    assert run_scheduler().started == 1
    (scan_id,) = executions()
    assert scans.get_scan(scan_id).monitored_url_id == kept


@pytest.mark.parametrize("status", ["cancelled", "past_due"])
def test_an_inactive_workspace_is_not_rescanned(
    workspace_factory: Any, state_machine: str, executions: Any, status: str
) -> None:
    from botscope.store import workspaces

    ws, _ = workspace_factory("growth")
    (mon_id,) = enroll_due(ws["workspace_id"], 1)
    workspaces.set_workspace_status(ws["workspace_id"], status)
    stats = run_scheduler()
    assert stats.skipped_inactive == 1 and stats.started == 0 and executions() == []
    item = store.get_monitored(ws["workspace_id"], mon_id)
    assert item.last_skipped_reason == f"workspace_{status}" and item.next_scan_at > utcnow().isoformat()
    # Back in good standing, it is rescanned at its next due time.
    workspaces.set_workspace_status(ws["workspace_id"], "active")
    make_due(ws["workspace_id"], mon_id, past())
    assert run_scheduler().started == 1 and len(executions()) == 1


def test_the_due_index_reads_the_schedule_view_of_a_monitored_url(workspace_factory: Any) -> None:
    from botscope.store.table import due_shard

    ws, _ = workspace_factory("enterprise")
    (mon_id,) = enroll_due(ws["workspace_id"], 1)
    enrolled = store.get_monitored(ws["workspace_id"], mon_id)
    assert enrolled is not None
    page = DynamoScheduleStore().due(due_shard(mon_id), iso(utcnow()), 10)
    assert [d.monitored_url_id for d in page] == [mon_id]
    (due,) = page
    assert (due.workspace_id, due.target_url, due.next_scan_at, due.cadence_seconds) == (
        ws["workspace_id"],
        "https://site0.example/",
        enrolled.next_scan_at,
        86400,
    )
    assert due.claim is None and not hasattr(due, "baseline")  # the change state stays in the table
