"""A day of monitoring on a fake clock: the real ``Scheduler`` over an in-memory due index with the
same conditional semantics as the DynamoDB one, and a fake scan starter. No network, no AWS.

Used by tests/unit/monitoring/test_simulation.py (a few thousand URLs) and
tests/bench/bench_monitoring_sim.py (50,000 URLs; figures in docs/benchmarks.md).
"""

from __future__ import annotations

import bisect
import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botscope.isotime import iso, parse_iso
from botscope.monitoring.scheduler import DEFAULT_CADENCE_SECONDS, Scheduler, SchedulerConfig
from botscope.store.monitoring import DueUrl, MonitoredUrl, ScheduleClaim
from botscope.store.table import DUE_SHARDS, due_shard
from botscope.store.workspaces import Workspace

# The simulated workspaces exist before any simulated time.
SIMULATED_WORKSPACE_CREATED_AT = "2026-01-01T00:00:00.000Z"


class InMemoryScheduleStore:
    """The due index in memory: one sorted list of ``(next_scan_at, mon_id)`` per shard, and each
    monitored URL's set attributes as a mutable row, the way the table holds items. ``due`` reads rows
    into ``DueUrl`` entities, as ``DynamoScheduleStore`` reads items; the conditional writes
    change a row in place, atomically under a lock as DynamoDB's are per item. Each id's shard is
    computed once (``due_shard`` hashes; the index moves an item twice per start)."""

    shards = DUE_SHARDS

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, dict[str, Any]] = {}
        self.workspaces: dict[str, Workspace] = {}
        self._index: list[list[tuple[str, str]]] = [[] for _ in range(self.shards)]
        self._shard_of: dict[str, int] = {}

    # -- set-up and inspection ---------------------------------------------------------------

    def add_workspace(self, workspace: Workspace) -> None:
        self.workspaces[workspace.workspace_id] = workspace

    def add_item(self, item: MonitoredUrl) -> None:
        with self._lock:
            self._rows[item.monitored_url_id] = {k: v for k, v in item if v is not None}
            self._shard_of[item.monitored_url_id] = due_shard(item.monitored_url_id)
            self._index_put(item.monitored_url_id, item.next_scan_at)

    def remove_item(self, monitored_url_id: str) -> None:
        with self._lock:
            row = self._rows.pop(monitored_url_id, None)
            if row is not None:
                self._index_del(monitored_url_id, row["next_scan_at"])
                del self._shard_of[monitored_url_id]

    def item(self, monitored_url_id: str) -> MonitoredUrl:
        return MonitoredUrl.model_validate(self._rows[monitored_url_id])

    def ids(self) -> list[str]:
        return list(self._rows)

    def _index_put(self, mon: str, at: str) -> None:
        bisect.insort(self._index[self._shard_of[mon]], (at, mon))

    def _index_del(self, mon: str, at: str) -> None:
        entries = self._index[self._shard_of[mon]]
        pos = bisect.bisect_left(entries, (at, mon))
        if pos < len(entries) and entries[pos] == (at, mon):
            entries.pop(pos)

    def _move(self, row: dict[str, Any], next_scan_at: str, **changes: Any) -> None:
        """Makes ``row`` due at ``next_scan_at`` with ``changes`` applied, moving its index entry."""
        self._index_del(row["monitored_url_id"], row["next_scan_at"])
        for name, value in changes.items():  # the table holds no nulls: None removes the attribute
            if value is None:
                row.pop(name, None)
            else:
                row[name] = value
        row["next_scan_at"] = next_scan_at
        self._index_put(row["monitored_url_id"], next_scan_at)

    # -- ScheduleStore -----------------------------------------------------------------------

    def due(self, shard: int, now_iso: str, limit: int, after: DueUrl | None = None) -> list[DueUrl]:
        with self._lock:
            entries = self._index[shard]
            lo = bisect.bisect_right(entries, (after.next_scan_at, after.monitored_url_id)) if after else 0
            hi = bisect.bisect_right(entries, (now_iso, "\uffff"))
            return [DueUrl.model_validate(self._rows[mon]) for _, mon in entries[lo : min(hi, lo + limit)]]

    def get_workspace(self, workspace_id: str) -> Workspace | None:
        return self.workspaces.get(workspace_id)

    def claim(self, item: DueUrl, *, lease_until: str, claim: ScheduleClaim) -> bool:
        with self._lock:
            row = self._rows.get(item.monitored_url_id)
            if row is None or row["next_scan_at"] != item.next_scan_at:
                return False
            self._move(row, lease_until, claim=claim)
            return True

    def confirm(
        self, item: DueUrl, *, scan_job_id: str, due_at: str, next_scan_at: str, started_at: str
    ) -> bool:
        with self._lock:
            row = self._rows.get(item.monitored_url_id)
            claim = row.get("claim") if row is not None else None
            if row is None or claim is None or claim.scan_job_id != scan_job_id:
                return False
            self._move(
                row,
                next_scan_at,
                claim=None,
                last_due_at=due_at,
                last_started_scan_job_id=scan_job_id,
                last_started_at=started_at,
            )
            return True

    def skip(self, item: DueUrl, *, next_scan_at: str, reason: str) -> bool:
        with self._lock:
            row = self._rows.get(item.monitored_url_id)
            if row is None or row["next_scan_at"] != item.next_scan_at:
                return False
            self._move(row, next_scan_at, claim=None, last_skipped_reason=reason)
            return True


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=max(seconds, 0.0))

    def set(self, when: datetime) -> None:
        with self._lock:
            self.now = max(self.now, when)


class RecordingStarter:
    """Records every start as (monitored URL id, due time, start time); thread-safe."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.starts: list[tuple[str, str, datetime]] = []
        self._lock = threading.Lock()

    def __call__(self, item: DueUrl, claim: ScheduleClaim, workspace: Workspace) -> str:
        with self._lock:
            self.starts.append((item.monitored_url_id, claim.due_at, self.clock()))
        return claim.scan_job_id


@dataclass
class SimulationResult:
    figures: dict[str, Any]
    starts: list[tuple[str, str, datetime]]
    expected: dict[str, int]  # monitored URL id → due times that fall in the simulated window
    served: dict[str, int]  # monitored URL id → due times in the window that were started


def simulate(
    n_urls: int = 5000,
    *,
    hourly_share: float = 0.1,
    herd: int = 0,
    hours: int = 24,
    schedule_period_seconds: int = 300,
    config: SchedulerConfig | None = None,
    seed: int = 7,
    workspaces: int = 200,
) -> SimulationResult:
    """Monitors ``n_urls`` URLs for ``hours``: ``hourly_share`` of them in enterprise workspaces with an
    hourly cadence, the rest daily; ``herd`` of the daily ones were all enrolled in the same second.
    The scheduler runs every ``schedule_period_seconds`` as EventBridge would invoke it."""
    rng = random.Random(seed)  # noqa: S311 - simulation
    config = config or SchedulerConfig(
        max_starts_per_second=10.0, run_budget_seconds=100.0, claim_lease_seconds=600
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    window_end = start + timedelta(hours=hours)
    store = InMemoryScheduleStore()
    n_hourly_ws = max(1, int(workspaces * hourly_share))
    _add_workspaces(store, workspaces, n_hourly_ws)
    _enroll_urls(
        store,
        rng,
        start,
        n_urls=n_urls,
        n_hourly=int(n_urls * hourly_share),
        herd=herd,
        n_hourly_ws=n_hourly_ws,
        workspaces=workspaces,
    )
    expected = _due_times_before(store, window_end)

    clock = FakeClock(start)
    starter = RecordingStarter(clock)
    scheduler = Scheduler(store, starter, config, clock=clock, sleep=clock.sleep, rng=rng)
    # Keep running a little past the window so late due times finish.
    runs, left_due_total = _run_every(
        scheduler, clock, start, window_end + timedelta(hours=2), schedule_period_seconds
    )
    return _figures(store, starter, expected, window_end, runs, left_due_total, config, n_urls, herd)


def _add_workspaces(store: InMemoryScheduleStore, workspaces: int, n_hourly_ws: int) -> None:
    """``workspaces`` active workspaces: the first ``n_hourly_ws`` enterprise (hourly), the rest growth."""
    for w in range(workspaces):
        hourly = w < n_hourly_ws
        store.add_workspace(
            Workspace(
                workspace_id=f"ws_{w:05d}",
                name=f"simulated {w}",
                plan="enterprise" if hourly else "growth",
                status="active",
                monitor_slots_limit=None,
                monitor_cadence_seconds=3600 if hourly else 86400,
                created_at=SIMULATED_WORKSPACE_CREATED_AT,
            )
        )


def _enroll_urls(
    store: InMemoryScheduleStore,
    rng: random.Random,
    start: datetime,
    *,
    n_urls: int,
    n_hourly: int,
    herd: int,
    n_hourly_ws: int,
    workspaces: int,
) -> None:
    """``n_urls`` monitored URLs, the first ``n_hourly`` in hourly workspaces, each first due at a
    random time within its cadence, except the ``herd`` last ones, all due at the same second."""
    for u in range(n_urls):
        hourly = u < n_hourly
        ws = (
            f"ws_{rng.randrange(n_hourly_ws):05d}"
            if hourly
            else f"ws_{n_hourly_ws + rng.randrange(workspaces - n_hourly_ws):05d}"
        )
        cadence = 3600 if hourly else 86400
        if not hourly and u >= n_urls - herd:
            first_due = start + timedelta(hours=1)  # a bulk enrollment: all due in the same second
        else:
            first_due = start + timedelta(seconds=rng.uniform(0, cadence))
        store.add_item(
            MonitoredUrl(
                workspace_id=ws,
                monitored_url_id=f"mon_{u:07d}{rng.getrandbits(40):010x}",
                target_url=f"https://site{u}.example/",
                next_scan_at=iso(first_due),
                cadence_seconds=cadence,
            )
        )


def _due_times_before(store: InMemoryScheduleStore, window_end: datetime) -> dict[str, int]:
    """Monitored URL id → how many of its due times fall before ``window_end``."""
    expected: dict[str, int] = {}
    for mon in store.ids():
        item = store.item(mon)
        cadence = item.cadence_seconds or DEFAULT_CADENCE_SECONDS
        due, count = parse_iso(item.next_scan_at), 0
        while due < window_end:
            count += 1
            due += timedelta(seconds=cadence)
        expected[mon] = count
    return expected


def _run_every(
    scheduler: Scheduler, clock: FakeClock, start: datetime, until: datetime, period_seconds: int
) -> tuple[int, int]:
    """Runs the scheduler every ``period_seconds`` from ``start`` to ``until``, as EventBridge would.
    Returns ``(runs, runs that ran out of budget)``."""
    runs, left_due_total = 0, 0
    tick = start
    while tick < until:
        clock.set(tick)
        left_due_total += scheduler.run().ran_out_of_budget
        runs += 1
        tick += timedelta(seconds=period_seconds)
    return runs, left_due_total


def _figures(
    store: InMemoryScheduleStore,
    starter: RecordingStarter,
    expected: dict[str, int],
    window_end: datetime,
    runs: int,
    left_due_total: int,
    config: SchedulerConfig,
    n_urls: int,
    herd: int,
) -> SimulationResult:
    served: dict[str, int] = defaultdict(int)
    per_due: Counter[tuple[str, str]] = Counter()
    lateness: list[float] = []
    per_shard: Counter[int] = Counter()
    for mon, due, started in starter.starts:
        per_due[(mon, due)] += 1
        due_dt = parse_iso(due)
        if due_dt < window_end:
            served[mon] += 1
        lateness.append((started - due_dt).total_seconds())
        per_shard[due_shard(mon)] += 1
    start_times = sorted(s for _, _, s in starter.starts)
    max_in_second, j = 0, 0
    for i, t in enumerate(start_times):  # largest number of starts in any window (t - 1 s, t]
        while start_times[j] <= t - timedelta(seconds=1):
            j += 1
        max_in_second = max(max_in_second, i - j + 1)
    total = len(starter.starts)
    lateness.sort()
    mean_shard = total / store.shards if total else 0
    figures = {
        "monitored_urls": n_urls,
        "herd_urls": herd,
        "scheduler_runs": runs,
        "scans_started": total,
        "due_times_in_window": sum(expected.values()),
        "due_times_served_in_window": sum(served.values()),
        "urls_with_wrong_count": sum(1 for mon, n in expected.items() if served.get(mon, 0) != n),
        "duplicate_starts": sum(n - 1 for n in per_due.values() if n > 1),
        "max_starts_in_any_second": max_in_second,
        "start_rate_bound_per_second": config.max_starts_per_second,
        "max_shard_share": round(max(per_shard.values()) / total, 4) if total else 0.0,
        "max_shard_vs_mean": round(max(per_shard.values()) / mean_shard, 3) if total else 0.0,
        "lateness_p50_s": round(lateness[len(lateness) // 2], 1) if lateness else 0.0,
        "lateness_p99_s": round(lateness[int(len(lateness) * 0.99)], 1) if lateness else 0.0,
        "lateness_max_s": round(lateness[-1], 1) if lateness else 0.0,
        "runs_that_ran_out_of_budget": left_due_total,
    }
    return SimulationResult(figures=figures, starts=starter.starts, expected=expected, served=dict(served))
