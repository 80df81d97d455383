"""Monitoring use cases (docs/api.md "Monitoring", "Sample reports"), shared by the HTTP routes, the MCP
tool ``list_monitoring_subscriptions`` and the scheduler functions.

- ``list_monitoring(principal)``      GET /api/v1/monitoring
- ``release(principal, id)``          DELETE /api/v1/monitoring/{id}
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
from botscope.service import plans
from botscope.store import monitoring as store
from botscope.store import scans

SCHEDULER_ACTOR = "scheduler"


# --- GET / DELETE /monitoring ------------------------------------------------------------------

def monitored_url_view(item: dict[str, Any]) -> dict[str, Any]:
    claim = item.get("claim") or {}
    return {
        "monitored_url_id": item["monitored_url_id"], "target_url": item["target_url"],
        "enrolled_at": item.get("enrolled_at"), "last_scan_job_id": item.get("last_scan_job_id"),
        "last_scanned_at": item.get("last_scanned_at"),
        # While a rescan is being started the item sits on a short lease; the due time it serves is
        # the honest "next scan".
        "next_scan_at": claim.get("due_at") or item.get("next_scan_at"),
        "cadence_seconds": item.get("cadence_seconds"),
        "summary": item.get("summary"),
    }


def list_monitoring(principal: Principal) -> dict[str, Any]:
    """``{"slots": {"used", "limit"}, "data": [...]}``, newest enrollment first."""
    plans.require_scanning(principal)
    return {"slots": store.slots(principal.workspace_id),
            "data": [monitored_url_view(i) for i in store.list_monitored(principal.workspace_id)]}


def release(principal: Principal, monitored_url_id: str) -> dict[str, Any]:
    """Stops monitoring a URL: the slot is freed and the item (with its due index entry) removed in
    one transaction, so the scheduler never rescans it. Another workspace's id → 404."""
    plans.require_scanning(principal)
    if not ids.is_id(monitored_url_id, "mon"):  # never an oversized key to DynamoDB (a 500 there)
        raise NotFound("No monitored URL with this id in your workspace.")
    record = store.release(principal.workspace_id, monitored_url_id)
    audit.record(principal, "monitoring.released", monitored_url_id, {"target_url": record.get("target_url")})
    return monitored_url_view(record)


# --- scans started by the system -------------------------------------------------------------------

def _system_principal(workspace: dict[str, Any], actor_id: str) -> Principal:
    return Principal(workspace_id=workspace["workspace_id"], plan=workspace.get("plan", "enterprise"),
                     workspace_status=workspace.get("status", "active"), actor_type="system", actor_id=actor_id)


def _start(workspace_id: str, target_url: str, scan_job_id: str, *, monitored_url_id: str | None,
           trigger: str) -> tuple[str, bool]:
    """A full scan through the one start path (``botscope.service.scans.launch_scan``); safe to call
    again with the same id. Returns ``(serving scan id, started now)``: another id when a scan of
    the URL was already running. A failed start is undone without a trace (the caller retries with
    the same id) and raises ``ServiceUnavailable``."""
    from botscope.service.scans import launch_scan

    scan, started = launch_scan(workspace_id, target_url, "full", scan_job_id, monitored_url_id=monitored_url_id,
                                trigger=trigger, keep_failed=False)
    return str(scan.get("scan_job_id") or scan_job_id), started


def start_scheduled_scan(item: dict[str, Any], scan_job_id: str, workspace: dict[str, Any]) -> str:
    """The scheduler's starter (``botscope.monitoring.scheduler.ScanStarter``): a full scan of the
    monitored URL as the system actor. Raises when the workflow cannot be started (the scheduler's
    claim then expires and a later run retries with the same scan id)."""
    serving, started = _start(item["workspace_id"], item["target_url"], scan_job_id,
                              monitored_url_id=item["monitored_url_id"], trigger="monitoring")
    if started:
        audit.record(_system_principal(workspace, SCHEDULER_ACTOR), "scan.started", serving,
                     {"target_url": item["target_url"], "scan_mode": "full", "trigger": "monitoring",
                      "monitored_url_id": item["monitored_url_id"]})
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
    scan = scans.get_scan(tab["scan_job_id"]) if tab else None
    if scan is None or scan.get("status") != "completed" or not scan.get("report_key") \
            or scan.get("workspace_id") != samples.SAMPLES_WORKSPACE_ID:
        raise NotFound("No sample report with this id.")
    return reports.get_report(scan["report_key"])
