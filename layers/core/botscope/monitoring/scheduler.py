"""The monitoring scheduler: one run finds the monitored URLs that are due and starts their scans.

Invoked by an EventBridge schedule (``MonitorSchedulerFunction``, every few minutes). Properties:

- **No hot key.** Due URLs are found through the sharded due index (``DUE#00``..``DUE#31``), each
  shard queried for ``gsi2sk <= now``; entries from all shards are merged oldest-first, so a
  backlog in one shard does not starve the others.
- **Each due time starts once.** A run claims an item with a conditional write (``next_scan_at``
  still equal to the value it read). Of two runs racing for the same item exactly one wins. The
  claim moves the item a lease into the future and records ``{due_at, scan_job_id}``; only after the
  scan has started is the item moved to its next due time and the claim dropped.
- **Never skipped.** A run that dies before claiming leaves the item due. A run that dies after
  claiming leaves the claim: when the lease expires the next run re-claims it and starts the *same*
  scan id (creating the scan item and the Step Functions execution are both idempotent on that id),
  so the due time is served exactly once either way.
- **Bounded rate with jitter.** Starts are spaced by at least ``1 / max_starts_per_second`` plus a
  random jitter, and a run stops starting after its time budget; what is left stays due for the
  next run.
- **Cadence.** The next due time keeps the URL's phase (``due + cadence``) when the scan started on
  time. When it started late (a backlog, e.g. many URLs enrolled at once) the phase moves to the
  actual start, which spreads a herd over the time it took to drain instead of keeping it bunched.
- Cancelled, past-due or deleted workspaces are not rescanned: their due items are moved on by one
  cadence without a scan, and resume when the workspace is active again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botscope import ids
from botscope.isotime import iso, parse_iso
from botscope.store.monitoring import DueUrl, ScheduleClaim
from botscope.store.workspaces import Workspace

# Minimum cadence per plan (docs/api.md: growth daily, enterprise configurable down to hourly).
PLAN_MIN_CADENCE_SECONDS = {"growth": 86400, "enterprise": 3600}
DEFAULT_CADENCE_SECONDS = 86400
# A claim whose start failed this many times is given up for this due time (the URL moves on).
MAX_START_ATTEMPTS = 3
# How late a start may be and still keep the URL's phase (see the module docstring).
LATE_TOLERANCE_SECONDS = 900
PAGE_SIZE = 100


class ScheduleStore(Protocol):
    shards: int

    def due(self, shard: int, now_iso: str, limit: int, after: DueUrl | None = None) -> list[DueUrl]: ...
    def get_workspace(self, workspace_id: str) -> Workspace | None: ...
    def claim(self, item: DueUrl, *, lease_until: str, claim: ScheduleClaim) -> bool: ...
    def confirm(
        self, item: DueUrl, *, scan_job_id: str, due_at: str, next_scan_at: str, started_at: str
    ) -> bool: ...
    def skip(self, item: DueUrl, *, next_scan_at: str, reason: str) -> bool: ...


# (monitored URL, the claim on its due time, workspace) → the scan id that serves this due time: the
# claim's ``scan_job_id``, or another id when a scan of the same URL was already running.
ScanStarter = Callable[[DueUrl, ScheduleClaim, Workspace], str]


def cadence_seconds(workspace: Workspace | None, enrolled_seconds: int | None, override: int = 0) -> int:
    """The URL's rescan cadence: the local override, else the workspace's (clamped to its plan's
    minimum), else what was recorded at enrollment (``enrolled_seconds``)."""
    if override > 0:
        return override
    workspace_cadence = workspace.monitor_cadence_seconds if workspace else None
    configured = int(workspace_cadence or enrolled_seconds or DEFAULT_CADENCE_SECONDS)
    plan_minimum = (
        PLAN_MIN_CADENCE_SECONDS.get(workspace.plan, DEFAULT_CADENCE_SECONDS) if workspace else None
    )
    return max(configured, plan_minimum or DEFAULT_CADENCE_SECONDS)


def next_due(due_at: datetime, started_at: datetime, cadence: int) -> datetime:
    """Next due time after a scan for ``due_at`` started at ``started_at`` (module docstring)."""
    tolerance = min(LATE_TOLERANCE_SECONDS, cadence / 4)
    if (started_at - due_at).total_seconds() <= tolerance:
        return due_at + timedelta(seconds=cadence)
    return started_at + timedelta(seconds=cadence)


@dataclass
class RunStats:
    started: int = 0
    skipped_inactive: int = 0
    lost_races: int = 0
    start_failures: int = 0
    given_up: int = 0
    reused_running: int = 0
    ran_out_of_budget: int = 0  # 1 when the run stopped with URLs still due (they wait for the next run)
    started_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "started_ids"}


@dataclass
class SchedulerConfig:
    max_starts_per_second: float = 10.0
    run_budget_seconds: float = 100.0
    claim_lease_seconds: int = 600
    interval_override_seconds: int = 0
    jitter_fraction: float = 0.5  # extra random spacing, as a fraction of the minimum spacing

    @classmethod
    def from_settings(cls) -> SchedulerConfig:
        from botscope.config import get_settings

        s = get_settings()
        return cls(
            max_starts_per_second=s.monitor_max_starts_per_second,
            run_budget_seconds=float(s.monitor_run_budget_seconds),
            claim_lease_seconds=s.monitor_claim_lease_seconds,
            interval_override_seconds=s.monitor_interval_seconds,
        )


class Scheduler:
    """One scheduler run per ``run()`` call. Clock, sleep and randomness are injected so the
    simulation drives the real logic on a fake clock."""

    def __init__(
        self,
        store: ScheduleStore,
        starter: ScanStarter,
        config: SchedulerConfig | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        log: Callable[..., None] | None = None,
        on_give_up: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.starter = starter
        self.on_give_up = on_give_up
        self.config = config or SchedulerConfig.from_settings()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.sleep = sleep or time.sleep
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.log = log or (lambda *a, **k: None)

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> RunStats:
        stats = RunStats()
        run_started = self.clock()
        deadline = run_started + timedelta(seconds=self.config.run_budget_seconds)
        spacing = 1.0 / self.config.max_starts_per_second if self.config.max_starts_per_second > 0 else 0.0
        next_start_allowed = run_started
        workspaces: dict[str, Workspace | None] = {}
        cursors: dict[int, DueUrl | None] = {shard: None for shard in range(self.store.shards)}
        exhausted = False

        while not exhausted:
            batch = self._due_batch(iso(run_started), cursors)
            if not batch:
                break
            for item in batch:
                workspace = self._workspace(item.workspace_id, workspaces)
                if (
                    workspace is None
                    or workspace.status != "active"
                    or workspace.plan not in PLAN_MIN_CADENCE_SECONDS
                ):
                    self._skip(item, workspace, stats)
                    continue
                # Pace the starts: wait for the next slot (plus jitter); stop when the budget is spent.
                now = self.clock()
                if next_start_allowed > now:
                    if next_start_allowed > deadline:
                        stats.ran_out_of_budget = 1
                        exhausted = True
                        break
                    self.sleep((next_start_allowed - now).total_seconds())
                elif now > deadline:
                    stats.ran_out_of_budget = 1
                    exhausted = True
                    break
                attempt_at = self.clock()
                if self._claim_and_start(item, workspace, stats):
                    # Spacing counts from the start of this attempt, so its own latency is part of it.
                    jitter = self.rng.uniform(0, self.config.jitter_fraction * spacing)
                    next_start_allowed = attempt_at + timedelta(seconds=spacing + jitter)
        self.log("monitor scheduler run", **stats.as_dict())
        return stats

    def _due_batch(self, now_iso: str, cursors: dict[int, DueUrl | None]) -> list[DueUrl]:
        """The next page of every shard that still has due items, merged oldest first (fair across
        shards). ``cursors`` holds each shard's last returned item; a drained shard is removed."""
        merged: list[DueUrl] = []
        for shard in list(cursors):
            page = self.store.due(shard, now_iso, PAGE_SIZE, after=cursors[shard])
            if len(page) < PAGE_SIZE:
                del cursors[shard]
            else:
                cursors[shard] = page[-1]
            merged.extend(page)
        merged.sort(key=lambda i: (i.next_scan_at, i.monitored_url_id))
        return merged

    def _workspace(self, workspace_id: str, cache: dict[str, Workspace | None]) -> Workspace | None:
        if workspace_id not in cache:
            cache[workspace_id] = self.store.get_workspace(workspace_id)
        return cache[workspace_id]

    def _skip(self, item: DueUrl, workspace: Workspace | None, stats: RunStats) -> None:
        now = self.clock()
        cadence = cadence_seconds(workspace, item.cadence_seconds, self.config.interval_override_seconds)
        reason = "workspace_missing" if workspace is None else f"workspace_{workspace.status}"
        if self.store.skip(item, next_scan_at=iso(now + timedelta(seconds=cadence)), reason=reason):
            stats.skipped_inactive += 1
        else:
            stats.lost_races += 1

    def _claim_and_start(self, item: DueUrl, workspace: Workspace, stats: RunStats) -> bool:
        """Returns True when a start was attempted (it used a slot of the rate budget)."""
        now = self.clock()
        previous = item.claim
        if previous is not None:  # a run before us claimed this due time and did not confirm: finish its work
            claim = previous.model_copy(update={"attempts": previous.attempts + 1, "claimed_at": iso(now)})
        else:
            claim = ScheduleClaim(
                due_at=item.next_scan_at,
                scan_job_id=ids.new_id("scan", int(now.timestamp() * 1000)),
                attempts=1,
                claimed_at=iso(now),
            )
        cadence = cadence_seconds(workspace, item.cadence_seconds, self.config.interval_override_seconds)
        lease = min(self.config.claim_lease_seconds, max(cadence // 2, 1))
        if not self.store.claim(item, lease_until=iso(now + timedelta(seconds=lease)), claim=claim):
            stats.lost_races += 1
            return False
        due_at = parse_iso(claim.due_at)
        if claim.attempts > MAX_START_ATTEMPTS:
            # Starting keeps failing: give this due time up rather than retry forever.
            self.store.skip(
                item.model_copy(update={"next_scan_at": iso(now + timedelta(seconds=lease))}),
                next_scan_at=iso(next_due(due_at, now, cadence)),
                reason="start_failed",
            )
            stats.given_up += 1
            if self.on_give_up is not None:
                self.on_give_up(claim.scan_job_id)
            return False
        try:
            served_by = self.starter(item, claim, workspace)
        except Exception as exc:  # noqa: BLE001 - the claim stays; the lease expiry retries it
            stats.start_failures += 1
            self.log("monitored scan did not start", monitored_url_id=item.monitored_url_id, error=repr(exc))
            return True
        started_at = self.clock()
        if served_by != claim.scan_job_id:
            stats.reused_running += 1
        self.store.confirm(
            item,
            scan_job_id=claim.scan_job_id,
            due_at=claim.due_at,
            next_scan_at=iso(next_due(due_at, started_at, cadence)),
            started_at=iso(started_at),
        )
        stats.started += 1
        stats.started_ids.append(served_by)
        return True


def run_once(
    starter: ScanStarter,
    store: ScheduleStore | None = None,
    *,
    on_give_up: Callable[[str], None] | None = None,
) -> RunStats:
    """One production run: the DynamoDB store and the scan starter the service layer passes in
    (``botscope.service.monitoring.run_scheduler``)."""
    from botscope.observability import logger
    from botscope.store.monitoring import DynamoScheduleStore

    def log(message: str, **extra: Any) -> None:
        logger.info(message, extra=extra)

    return Scheduler(store or DynamoScheduleStore(), starter, log=log, on_give_up=on_give_up).run()
