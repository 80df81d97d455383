"""Monitoring use cases (docs/api.md "Monitoring", "Sample reports"), shared by the HTTP routes, the MCP
tool ``list_monitoring_subscriptions`` and the scheduler functions.

- ``list_monitoring(principal)``      GET /api/v1/monitoring
- ``release(principal, id)``          DELETE /api/v1/monitoring/{id}
- ``get_monitored_url(principal, id)`` GET /api/v1/monitoring/{id} (schedule, last scan, change history)
- ``update(principal, id, ...)``      PATCH /api/v1/monitoring/{id} (``paused``, ``scan_mode``)
- ``rescan(principal, id)``           POST /api/v1/monitoring/{id}/rescan
- ``start_scheduled_scan(...)``       the scheduler's scan start (system actor, no plan checks: the
                                      URL is monitored, so a growth workspace needs no enrollment)
- ``sample_reports()`` / ``sample_report(tab_id)``  the public sample reports (no auth)
"""

from __future__ import annotations

from typing import Any

from botscope import audit, ids
from botscope.auth.principal import Principal
from botscope.errors import NotFound
from botscope.monitoring import sample_reports as samples
from botscope.scanner.vocabulary import SCAN_MODES
from botscope.service import plans
from botscope.store import monitoring as store
from botscope.store import scans
from botscope.store.monitoring import DueUrl, MonitoredUrl, ScheduleClaim
from botscope.store.workspaces import Workspace

SCHEDULER_ACTOR = "scheduler"


# --- GET / DELETE /monitoring ------------------------------------------------------------------


def monitored_url_view(item: MonitoredUrl) -> dict[str, Any]:
    return {
        "monitored_url_id": item.monitored_url_id,
        "target_url": item.target_url,
        "enrolled_at": item.enrolled_at,
        "last_scan_job_id": item.last_scan_job_id,
        "last_scanned_at": item.last_scanned_at,
        # While a rescan is being started the item sits on a short lease; the due time it serves is
        # the honest "next scan".
        "next_scan_at": item.claim.due_at if item.claim else item.next_scan_at,
        "cadence_seconds": item.cadence_seconds,
        "summary": item.summary.to_dict() if item.summary else None,
    }


def list_monitoring(principal: Principal) -> dict[str, Any]:
    """``{"slots": {"used", "limit"}, "data": [...]}``, newest enrollment first."""
    plans.require_scanning(principal)
    return {
        "slots": store.slots(principal.workspace_id).to_dict(),
        "data": [monitored_url_view(i) for i in store.list_monitored(principal.workspace_id)],
    }


def release(principal: Principal, monitored_url_id: str) -> dict[str, Any]:
    """Stops monitoring a URL: the slot is freed and the item (with its due index entry) removed in
    one transaction, so the scheduler never rescans it. Another workspace's id → 404."""
    plans.require_scanning(principal)
    if not ids.is_id(monitored_url_id, "mon"):  # never an oversized key to DynamoDB (a 500 there)
        raise NotFound("No monitored URL with this id in your workspace.")
    record = store.release(principal.workspace_id, monitored_url_id)
    audit.record(principal, "monitoring.released", monitored_url_id, {"target_url": record.target_url})
    return monitored_url_view(record)


# --- one monitored URL: read, change settings, rescan now -------------------------------------------

DEFAULT_CHANGES_PAGE = 20
MAX_CHANGES_PAGE = 100
# A monitored URL can be rescanned by hand once per this many seconds (the schedule does the rest).
MANUAL_RESCAN_INTERVAL_SECONDS = 60


def _owned_monitored(principal: Principal, monitored_url_id: str) -> MonitoredUrl:
    plans.require_scanning(principal)
    record = (
        store.get_monitored(principal.workspace_id, monitored_url_id)
        if ids.is_id(monitored_url_id, "mon")
        else None
    )
    if record is None:
        raise NotFound("No monitored URL with this id in your workspace.")
    return record


def resource_view(item: MonitoredUrl) -> dict[str, Any]:
    """GET/PATCH /monitoring/{id}: the list entry plus the schedule and the scan currently running."""
    from botscope.service.scans import links

    running_id = scans.get_active(item.workspace_id, item.target_url)
    view = monitored_url_view(item)
    return {
        **view,
        "paused": item.paused,
        "scan_mode": item.scan_mode or "full",
        "schedule": {
            "cadence_seconds": item.cadence_seconds,
            "paused": item.paused,
            "next_scan_at": None if item.paused else view["next_scan_at"],
        },
        "last_scan": (
            {
                "scan_job_id": item.last_scan_job_id,
                "completed_at": item.last_scanned_at,
                "links": links(item.last_scan_job_id),
            }
            if item.last_scan_job_id
            else None
        ),
        "running_scan": {"scan_job_id": running_id, "links": links(running_id)} if running_id else None,
        "links": {
            "self": f"/api/v1/monitoring/{item.monitored_url_id}",
            "rescan": f"/api/v1/monitoring/{item.monitored_url_id}/rescan",
        },
    }


def get_monitored_url(
    principal: Principal,
    monitored_url_id: str,
    limit: int = DEFAULT_CHANGES_PAGE,
    starting_after: str | None = None,
) -> dict[str, Any]:
    """The URL with its change history, newest first: each entry is the data of one
    ``monitoring.findings_changed`` event (plus ``detected_at``). ``starting_after`` is the
    ``scan_job_id`` of the last entry of the previous page."""
    from botscope.service.scans import _invalid

    if not isinstance(limit, int) or not 1 <= limit <= MAX_CHANGES_PAGE:
        raise _invalid("limit", f"must be between 1 and {MAX_CHANGES_PAGE}")
    if starting_after is not None and not ids.is_id(starting_after, "scan"):
        raise _invalid("starting_after", "must be a scan id (scan_…)")
    item = _owned_monitored(principal, monitored_url_id)
    entries, has_more = store.list_changes(
        principal.workspace_id, monitored_url_id, limit=limit, starting_after=starting_after
    )
    return {
        **resource_view(item),
        "changes": {"data": [entry.to_dict() for entry in entries], "has_more": has_more},
    }


def update(
    principal: Principal, monitored_url_id: str, *, paused: bool | None = None, scan_mode: str | None = None
) -> dict[str, Any]:
    """PATCH: a paused URL is not rescanned until resumed; ``scan_mode`` is used by its rescans."""
    from botscope.service.scans import _invalid

    if scan_mode is not None and scan_mode not in SCAN_MODES:
        raise _invalid("scan_mode", "must be one of: " + ", ".join(SCAN_MODES))
    _owned_monitored(principal, monitored_url_id)
    item = store.update_settings(principal.workspace_id, monitored_url_id, paused=paused, scan_mode=scan_mode)
    changed = {k: v for k, v in (("paused", paused), ("scan_mode", scan_mode)) if v is not None}
    if changed:
        audit.record(principal, "monitoring.updated", monitored_url_id, changed)
    return resource_view(item)


def rescan(principal: Principal, monitored_url_id: str) -> Any:
    """POST /monitoring/{id}/rescan: a scan of the URL now, in its scan mode. 409 ``scan_in_progress``
    while a scan of it runs; 429 ``rate_limited`` within a minute of the last manual rescan. Returns
    the ``botscope.service.scans.ScanCreation``."""
    from botscope.errors import Conflict, RateLimited
    from botscope.service import scans as scan_service

    item = _owned_monitored(principal, monitored_url_id)
    running = scans.running_scan(principal.workspace_id, item.target_url)
    if running is not None:
        raise Conflict(
            f"A scan of this URL is running ({running.scan_job_id}); wait for it to finish.",
            code="scan_in_progress",
            headers={"Location": scan_service.links(running.scan_job_id)["self"]},
        )
    wait = store.claim_manual_rescan(
        principal.workspace_id, monitored_url_id, min_interval_seconds=MANUAL_RESCAN_INTERVAL_SECONDS
    )
    if wait is not None:
        raise RateLimited(
            f"This URL was rescanned less than {MANUAL_RESCAN_INTERVAL_SECONDS} s ago; retry later.",
            headers={"Retry-After": str(wait)},
        )
    try:
        outcome = scan_service.start_scan(
            principal, item.target_url, item.scan_mode or "full", trigger="rescan"
        )
    except BaseException:
        store.release_manual_rescan(principal.workspace_id, monitored_url_id)
        raise
    if not outcome.created:  # a scan started in between: it serves this request
        raise Conflict(
            f"A scan of this URL is running ({outcome.body['scan_job_id']}); wait for it to finish.",
            code="scan_in_progress",
            headers={"Location": outcome.location},
        )
    return outcome


def force_due(
    workspace_id: str, *, monitored_url_id: str | None = None, target_url: str | None = None
) -> str:
    """The local developer loop (``events/monitor_scheduler_force.json``): makes a monitored URL due
    now, named by id or by URL. Returns its id."""
    if monitored_url_id is None:
        from botscope.service.scans import guard

        record = store.get_monitored_by_url(workspace_id, guard(str(target_url)))
        if record is None:
            raise NotFound(f"{target_url} is not monitored by workspace {workspace_id}.")
        monitored_url_id = record.monitored_url_id
    store.force_due(workspace_id, monitored_url_id)
    return monitored_url_id


# --- scans started by the system -------------------------------------------------------------------


def _system_principal(workspace: Workspace, actor_id: str) -> Principal:
    return Principal(
        workspace_id=workspace.workspace_id,
        plan=workspace.plan,
        workspace_status=workspace.status,
        actor_type="system",
        actor_id=actor_id,
    )


def _start(
    workspace_id: str,
    target_url: str,
    scan_job_id: str,
    *,
    monitored_url_id: str | None,
    trigger: str,
    scan_mode: str = "full",
) -> tuple[str, bool]:
    """A scan (full unless the URL says otherwise) through the one start path (``botscope.service.scans.launch_scan``); safe to call
    again with the same id. Returns ``(serving scan id, started now)``: another id when a scan of
    the URL was already running. A failed start is undone without a trace (the caller retries with
    the same id) and raises ``ServiceUnavailable``."""
    from botscope.service.scans import launch_scan

    scan, started = launch_scan(
        workspace_id,
        target_url,
        scan_mode,
        scan_job_id,
        monitored_url_id=monitored_url_id,
        trigger=trigger,
        keep_failed=False,
    )
    return scan.scan_job_id, started


def start_scheduled_scan(item: DueUrl, claim: ScheduleClaim, workspace: Workspace) -> str:
    """The scheduler's starter (``botscope.monitoring.scheduler.ScanStarter``): a scan of the
    monitored URL in its ``scan_mode`` (full unless changed with PATCH) as the system actor, under
    the claim's scan id. Raises when the workflow cannot be started (the claim then expires and a
    later run retries with the same scan id)."""
    scan_mode = item.scan_mode or "full"
    serving, started = _start(
        item.workspace_id,
        item.target_url,
        claim.scan_job_id,
        monitored_url_id=item.monitored_url_id,
        trigger="monitoring",
        scan_mode=scan_mode,
    )
    if started:
        audit.record(
            _system_principal(workspace, SCHEDULER_ACTOR),
            "scan.started",
            serving,
            {
                "target_url": item.target_url,
                "scan_mode": scan_mode,
                "trigger": "monitoring",
                "monitored_url_id": item.monitored_url_id,
            },
        )
    return serving


def abandon_scheduled_scan(scan_job_id: str) -> None:
    """The scheduler gave up starting this scan: settle it as failed so nothing waits for it."""
    scans.mark_failed(scan_job_id, "start_failed", "The scan workflow could not be started.")


def start_sample_scan(target_url: str, scan_job_id: str) -> None:
    """A sample report's scan (``botscope.monitoring.sample_reports``), under the samples workspace."""
    _start(samples.SAMPLES_WORKSPACE_ID, target_url, scan_job_id, monitored_url_id=None, trigger="samples")


def run_scheduler() -> Any:
    """One run of the monitoring scheduler (MonitorSchedulerFunction) with the real store and the
    scan starter above; returns its ``RunStats``."""
    from botscope.monitoring import scheduler

    return scheduler.run_once(start_scheduled_scan, on_give_up=abandon_scheduled_scan)


def refresh_sample_reports(now: Any = None, *, start_new_day: bool = True) -> dict[str, Any]:
    """One step of the sample reports' daily refresh (``botscope.monitoring.sample_reports.refresh``)
    with the sample scan starter above."""
    return samples.refresh(now, start_sample_scan, start_new_day=start_new_day)


# --- sample reports (no auth) ----------------------------------------------------------------------


def sample_reports() -> dict[str, Any]:
    """GET /api/v1/sample-reports: the last ready day's tabs."""
    return samples.current()


def sample_report(tab_id: str) -> dict[str, Any]:
    """GET /api/v1/sample-reports/{tab_id}: that tab's public report."""
    from botscope.store import reports

    tab = samples.find_tab(tab_id) if len(tab_id) <= 120 else None
    scan = scans.get_scan(tab.scan_job_id) if tab else None
    if (
        scan is None
        or scan.status != "completed"
        or not scan.report_key
        or scan.workspace_id != samples.SAMPLES_WORKSPACE_ID
    ):
        raise NotFound("No sample report with this id.")
    return reports.get_report(scan.report_key)
