"""The scheduler's claim / start / confirm cycle over the in-memory due index (fake clock)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botscope.monitoring.scheduler import (
    MAX_START_ATTEMPTS,
    Scheduler,
    SchedulerConfig,
    cadence_seconds,
    iso,
    next_due,
)
from botscope.monitoring.simulation import FakeClock, InMemoryScheduleStore, RecordingStarter
from botscope.store.monitoring import MonitoredUrl, ScheduleClaim
from botscope.store.workspaces import Workspace

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = SchedulerConfig(max_starts_per_second=10, run_budget_seconds=100, claim_lease_seconds=600)


def make_store(
    n: int = 5, *, plan: str = "growth", status: str = "active", due: datetime = T0
) -> InMemoryScheduleStore:
    store = InMemoryScheduleStore()
    store.add_workspace(_workspace(plan, 86400, status=status))
    for i in range(n):
        store.add_item(
            MonitoredUrl(
                workspace_id="ws_a",
                monitored_url_id=f"mon_{i:03d}",
                target_url=f"https://s{i}.example/",
                next_scan_at=iso(due - timedelta(seconds=i)),
                cadence_seconds=86400,
            )
        )
    return store


def scheduler(store: InMemoryScheduleStore, clock: FakeClock, starter: Any, **kw: Any) -> Scheduler:
    return Scheduler(store, starter, CONFIG, clock=clock, sleep=clock.sleep, **kw)


def test_due_urls_are_started_once_and_moved_to_their_next_due_time() -> None:
    store, clock = make_store(3), FakeClock(T0 + timedelta(seconds=5))
    starter = RecordingStarter(clock)
    stats = scheduler(store, clock, starter).run()
    assert stats.started == 3 and len(starter.starts) == 3
    for item in map(store.item, store.ids()):
        assert item.claim is None and item.last_due_at is not None
        assert item.next_scan_at == iso(
            datetime.fromisoformat(item.last_due_at.replace("Z", "+00:00")) + timedelta(days=1)
        )
    # A second run at the same time finds nothing due.
    assert scheduler(store, clock, starter).run().started == 0
    assert len(starter.starts) == 3


def test_urls_not_yet_due_are_left_alone() -> None:
    store, clock = make_store(2, due=T0 + timedelta(hours=1)), FakeClock(T0)
    starter = RecordingStarter(clock)
    assert scheduler(store, clock, starter).run().started == 0 and starter.starts == []


def test_cancelled_and_past_due_workspaces_are_not_rescanned() -> None:
    for status in ("cancelled", "past_due"):
        store, clock = make_store(2, status=status), FakeClock(T0 + timedelta(seconds=5))
        starter = RecordingStarter(clock)
        stats = scheduler(store, clock, starter).run()
        assert starter.starts == [] and stats.skipped_inactive == 2
        # They are moved on (not left at the head of the index), and resume when active again.
        assert all(i.last_skipped_reason == f"workspace_{status}" for i in map(store.item, store.ids()))
        store.add_workspace(store.workspaces["ws_a"].model_copy(update={"status": "active"}))
        clock.sleep(86400)
        assert scheduler(store, clock, starter).run().started == 2


def test_a_released_url_is_not_rescanned() -> None:
    store, clock = make_store(2), FakeClock(T0 + timedelta(seconds=5))
    store.remove_item("mon_000")  # what DELETE /monitoring/{id} does to the item and its index entry
    starter = RecordingStarter(clock)
    scheduler(store, clock, starter).run()
    assert [s[0] for s in starter.starts] == ["mon_001"]


def test_a_crash_after_the_claim_is_finished_by_a_later_run_with_the_same_scan_id() -> None:
    store, clock = make_store(1), FakeClock(T0 + timedelta(seconds=5))
    seen: list[str] = []

    def crashing_starter(item: MonitoredUrl, claim: ScheduleClaim, workspace: Workspace) -> str:
        seen.append(claim.scan_job_id)
        raise RuntimeError("Step Functions unavailable")

    stats = scheduler(store, clock, crashing_starter).run()
    assert stats.start_failures == 1
    item = store.item("mon_000")
    assert item.claim is not None and item.claim.due_at == iso(T0) and item.claim.attempts == 1
    # Before the lease expires nobody touches it; after, the next run retries the same scan.
    starter = RecordingStarter(clock)
    assert scheduler(store, clock, starter).run().started == 0
    clock.sleep(CONFIG.claim_lease_seconds + 1)
    retried: list[str] = []

    def ok_starter(item: MonitoredUrl, claim: ScheduleClaim, workspace: Workspace) -> str:
        retried.append(claim.scan_job_id)
        return claim.scan_job_id

    assert scheduler(store, clock, ok_starter).run().started == 1
    assert retried == seen  # the same scan id: a start that did get through is not doubled
    assert store.item("mon_000").last_due_at == iso(T0) and store.item("mon_000").claim is None


def test_a_start_that_keeps_failing_is_given_up_for_that_due_time() -> None:
    store, clock = make_store(1), FakeClock(T0 + timedelta(seconds=5))
    abandoned: list[str] = []

    def failing(item: MonitoredUrl, claim: ScheduleClaim, workspace: Workspace) -> str:
        raise RuntimeError("nope")

    for _ in range(MAX_START_ATTEMPTS + 1):
        scheduler(store, clock, failing, on_give_up=abandoned.append).run()
        clock.sleep(CONFIG.claim_lease_seconds + 1)
    item = store.item("mon_000")
    assert len(abandoned) == 1 and item.claim is None and item.last_skipped_reason == "start_failed"
    assert item.next_scan_at > iso(clock())


def test_two_schedulers_at_once_start_each_due_time_once() -> None:
    store = make_store(300)
    clock = FakeClock(T0 + timedelta(seconds=5))
    starter = RecordingStarter(clock)
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        Scheduler(
            store,
            starter,
            SchedulerConfig(max_starts_per_second=0, run_budget_seconds=100),
            clock=clock,
            sleep=lambda s: None,
        ).run()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s[0] for s in starter.starts) == sorted(store.ids())


def test_starts_are_spaced_by_the_rate_bound() -> None:
    store, clock = make_store(30), FakeClock(T0 + timedelta(seconds=60))
    starter = RecordingStarter(clock)
    scheduler(store, clock, starter).run()
    times = [s[2] for s in starter.starts]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert len(times) == 30 and min(gaps) >= 1 / CONFIG.max_starts_per_second


def _workspace(plan: Any, cadence: int, *, status: Any = "active") -> Workspace:
    return Workspace(
        workspace_id="ws_a",
        name="a",
        plan=plan,
        status=status,
        monitor_slots_limit=None,
        monitor_cadence_seconds=cadence,
        created_at="2026-01-01T00:00:00.000Z",
    )


def test_cadence_follows_the_plan_and_the_override() -> None:
    enrolled = 86400
    assert cadence_seconds(_workspace("growth", 3600), enrolled) == 86400  # growth: daily
    assert cadence_seconds(_workspace("enterprise", 3600), enrolled) == 3600
    assert cadence_seconds(_workspace("enterprise", 60), enrolled) == 3600  # floor: hourly
    override = cadence_seconds(_workspace("growth", 86400), enrolled, override=20)
    assert override == 20  # BOTSCOPE_MONITOR_INTERVAL_SECONDS
    assert cadence_seconds(None, enrolled) == 86400  # a missing workspace: the enrolled cadence


@pytest.mark.parametrize(
    ("late_seconds", "expected"),
    [(120, T0 + timedelta(days=1)), (3600, T0 + timedelta(seconds=3600, days=1))],
)
def test_next_due_keeps_the_phase_unless_the_start_was_late(late_seconds: int, expected: datetime) -> None:
    assert next_due(T0, T0 + timedelta(seconds=late_seconds), 86400) == expected
