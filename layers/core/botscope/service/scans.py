"""Scan use cases (docs/api.md "Scans"): start a scan, read its status, findings and report, list scans,
cancel a scan.

Shared by the HTTP routes (``botscope.api.routes.scans``) and the MCP tools, so both apply the
same order of checks:

1. syntax (scan mode, Idempotency-Key) → 422 ``validation_error``
2. Idempotency-Key claim → replay / 422 ``idempotency_mismatch`` / 409 ``idempotency_in_flight``
3. plan → 403 ``plan_required``
4. target: normalize + SSRF guard (resolve, every address public) → 422 ``invalid_target`` /
   ``target_not_public``; nothing is sent to the target from the API, the guard only resolves
5. growth: the URL is monitored or the request enrolls it → 403 ``url_not_monitored``
6. a *new* scan (no running scan of the URL) must fit the workspace's concurrent scan limit →
   429 ``rate_limited`` (``botscope.ratelimit``), checked before any slot is claimed
7. enrolling claims a slot atomically → 409 ``monitoring_slots_exhausted``
8. one running scan per (workspace, URL): a running scan is returned instead of a second one
9. start the workflow; if that fails, undo what this request did (scan failed ``start_failed``,
   active marker released, slot released) → 503 ``scan_start_failed``
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from botscope import audit, ids
from botscope.auth.principal import Principal
from botscope.config import get_settings
from botscope.errors import (
    InvalidTarget,
    ScanCancelledError,
    ScanFailedError,
    ScanNotReady,
    ServiceUnavailable,
    TargetNotPublic,
    UrlNotMonitored,
    ValidationFailed,
)
from botscope.isotime import parse_iso, utcnow
from botscope.links import API_PREFIX
from botscope.scanner.vocabulary import SCAN_MODES
from botscope.service import plans
from botscope.store import idempotency, monitoring, reports, scans, workspaces
from botscope.store.scans import ErrorDetail, PathRun, Scan

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# A scan is declared timed out a little after its deadline: the workflow's own timeout starts at
# StartExecution, slightly after the scan was written, and Finalize may be in its last write.
OVERDUE_GRACE_SECONDS = 30

# Resolver used by the SSRF guard (None = the system resolver). Tests substitute a fake one so a
# public-looking host resolves without network.
target_resolver: Any = None


@dataclass(frozen=True)
class ScanCreation:
    body: dict[str, Any]  # the public scan representation (docs/api.md POST /scans response)
    status_code: int  # 202 a new scan was started; 200 a running scan of the URL was returned
    created: bool  # False when an already running scan was returned
    replayed: bool = False  # True when this is the stored response of an earlier request (Idempotency-Key)

    @property
    def location(self) -> str:
        return str(self.body["links"]["self"])


# --- representations ---------------------------------------------------------------------------


def links(scan_job_id: str) -> dict[str, str]:
    base = f"{API_PREFIX}/scans/{scan_job_id}"
    return {"self": base, "findings": f"{base}/findings", "report": f"{base}/report"}


def _monitoring_view(monitored_url_id: str | None) -> dict[str, Any] | None:
    return {"enrolled": True, "monitored_url_id": monitored_url_id} if monitored_url_id else None


def _progress(scan: Scan) -> dict[str, int]:
    total = scan.path_runs_total
    settled = scan.path_runs_completed + scan.path_runs_failed + scan.path_runs_cancelled
    if scan.status == "completed":
        percent = 100
    else:
        percent = min(100, settled * 100 // total) if total else 0
    return {
        "path_runs_total": total,
        "path_runs_completed": scan.path_runs_completed,
        "path_runs_failed": scan.path_runs_failed,
        "path_runs_cancelled": scan.path_runs_cancelled,
        "percent": percent,
    }


def _error_view(error: ErrorDetail | None) -> dict[str, str] | None:
    return {"code": error.code, "message": error.message} if error else None


def _path_run_view(run: PathRun) -> dict[str, Any]:
    return {
        "path_run_id": run.path_run_id,
        "path": run.path,
        "profile": run.profile,
        "status": run.status,
        "outcome": run.outcome,
        "http_status": run.http_status,
        "duration_ms": run.duration_ms,
        "error": _error_view(run.error),
    }


def created_view(scan: Scan, monitored_url_id: str | None = None) -> dict[str, Any]:
    """POST /scans response body."""
    return {
        "scan_job_id": scan.scan_job_id,
        "status": scan.status,
        "target_url": scan.target_url,
        "scan_mode": scan.scan_mode,
        "monitoring": _monitoring_view(monitored_url_id or scan.monitored_url_id),
        "created_at": scan.created_at,
        "links": links(scan.scan_job_id),
    }


def summary_view(scan: Scan) -> dict[str, Any]:
    """A scan without its path runs (listings)."""
    return {
        "scan_job_id": scan.scan_job_id,
        "status": scan.status,
        "target_url": scan.target_url,
        "scan_mode": scan.scan_mode,
        "created_at": scan.created_at,
        "started_at": scan.started_at,
        "completed_at": scan.completed_at,
        "progress": _progress(scan),
        "error": _error_view(scan.error),
        "monitoring": _monitoring_view(scan.monitored_url_id),
        "links": links(scan.scan_job_id),
    }


def status_view(scan: Scan, runs: list[PathRun]) -> dict[str, Any]:
    """GET /scans/{id} response body."""
    return {**summary_view(scan), "path_runs": [_path_run_view(r) for r in runs]}


def poll_hint_seconds(status: str) -> int | None:
    """Seconds a client should wait before polling again (``Retry-After``), None when finished."""
    return get_settings().scan_poll_hint_seconds if status in scans.ACTIVE_STATUSES else None


# --- validation helpers ------------------------------------------------------------------------


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors=[{"field": field, "message": message}])


def validate_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not key or len(key) > idempotency.MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise _invalid(
            "Idempotency-Key", f"must be 1–{idempotency.MAX_KEY_LENGTH} printable ASCII characters"
        )
    return key


def request_hash(target_url: str, scan_mode: str, enroll_monitoring: bool, render: bool | None = None) -> str:
    fields: dict[str, Any] = {
        "target_url": target_url,
        "scan_mode": scan_mode,
        "enroll_monitoring": bool(enroll_monitoring),
    }
    if render is not None:  # absent from the hash when not sent: earlier bodies keep their hash
        fields["render"] = bool(render)
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def guard(target_url: str) -> str:
    """Normalized URL of a customer target that passed the SSRF guard; raises ``InvalidTarget`` /
    ``TargetNotPublic`` (with ``errors[].field = target_url``). Resolves the name; sends nothing."""
    from botscope.scanner.targets import NetworkPolicy, guard_target

    try:
        target, _addresses = guard_target(
            target_url, NetworkPolicy(allow_private=get_settings().allowed_private_networks), target_resolver
        )
    except (InvalidTarget, TargetNotPublic) as exc:
        exc.errors = [{"field": "target_url", "message": exc.message}]
        raise
    return target.url


# --- create ------------------------------------------------------------------------------------


def start_scan(
    principal: Principal,
    target_url: Any,
    scan_mode: str = "full",
    enroll_monitoring: bool = False,
    idempotency_key: str | None = None,
    request_body_hash: str | None = None,
    *,
    trigger: str = "api",
    render: bool | None = None,
) -> ScanCreation:
    """POST /api/v1/scans (and the MCP ``create_scan`` tool). See the module docstring for the order
    of checks."""
    if scan_mode not in SCAN_MODES:
        raise _invalid("scan_mode", "must be one of: " + ", ".join(SCAN_MODES))
    if not isinstance(target_url, str):
        raise _invalid("target_url", "must be a string")
    idempotency_key = validate_idempotency_key(idempotency_key)
    if render is not None and not isinstance(render, bool):
        raise _invalid("render", "must be a boolean")
    body_hash = request_body_hash or request_hash(target_url, scan_mode, enroll_monitoring, render)
    # The rendered profile (a real browser) is on by default for full scans only.
    rendered = scan_mode == "full" if render is None else render
    if idempotency_key:
        stored = idempotency.begin(principal.workspace_id, idempotency_key, body_hash)
        if stored is not None:
            code = stored.status_code
            return ScanCreation(body=stored.body, status_code=code, created=code == 202, replayed=True)
    try:
        outcome = _start_scan(principal, target_url, scan_mode, enroll_monitoring, trigger, rendered)
    except BaseException:
        if idempotency_key:
            idempotency.abandon(principal.workspace_id, idempotency_key, body_hash)
        raise
    if idempotency_key:
        idempotency.complete(
            principal.workspace_id,
            idempotency_key,
            body_hash,
            status_code=outcome.status_code,
            body=outcome.body,
        )
    return outcome


def _start_scan(
    principal: Principal,
    raw_url: str,
    scan_mode: str,
    enroll_monitoring: bool,
    trigger: str,
    render: bool = False,
) -> ScanCreation:
    plans.require_scanning(principal)
    target_url = guard(raw_url)
    workspace_id = principal.workspace_id
    scan_job_id = ids.new_id("scan")

    # Monitoring: growth may scan only monitored URLs; enrolling claims a slot atomically.
    monitored = monitoring.get_monitored_by_url(workspace_id, target_url)
    if monitored is None and plans.scans_require_monitoring(principal) and not enroll_monitoring:
        raise UrlNotMonitored(
            "On the growth plan you can scan URLs under monitoring; send "
            '"enroll_monitoring": true to enroll this one (it takes a slot).'
        )
    if scans.running_scan(workspace_id, target_url) is None:
        # Only a *new* scan counts against the workspace's concurrent scans (429), and the check
        # comes before a slot is claimed so a refusal leaves nothing to undo.
        from botscope import ratelimit

        ratelimit.check_scan_concurrency(principal)
    newly_enrolled = False
    if monitored is None and enroll_monitoring:
        workspace = workspaces.get_workspace(workspace_id)
        monitored, newly_enrolled = monitoring.enroll(
            workspace_id,
            target_url,
            cadence_seconds=plans.monitoring_cadence_seconds(workspace),
            first_scan_job_id=scan_job_id,
        )
    monitored_url_id = monitored.monitored_url_id if monitored else None

    scan, started = launch_scan(
        workspace_id,
        target_url,
        scan_mode,
        scan_job_id,
        monitored_url_id=monitored_url_id,
        trigger=trigger,
        enrolled_id=monitored_url_id if newly_enrolled else None,
        concurrency_limit=get_settings().max_concurrent_scans,
        render=render,
    )
    if not started:
        # Same URL already being scanned for this workspace: that scan is handed back, nothing started.
        if newly_enrolled:
            _audit_enrollment(principal, monitored_url_id, target_url)
        return ScanCreation(body=created_view(scan, monitored_url_id), status_code=200, created=False)
    if newly_enrolled:  # recorded once it is kept (a failed start releases the slot again)
        _audit_enrollment(principal, monitored_url_id, target_url)
    audit.record(principal, "scan.started", scan_job_id, {"target_url": target_url, "scan_mode": scan_mode})
    _count_metric("ScansStarted")
    return ScanCreation(body=created_view(scan, monitored_url_id), status_code=202, created=True)


def launch_scan(
    workspace_id: str,
    target_url: str,
    scan_mode: str,
    scan_job_id: str,
    *,
    monitored_url_id: str | None,
    trigger: str,
    enrolled_id: str | None = None,
    keep_failed: bool = True,
    concurrency_limit: int = 0,
    render: bool = False,
) -> tuple[Scan, bool]:
    """The one way a scan starts, for API/MCP requests and for scans the system starts (monitoring
    rescans, sample reports): creates the scan ``scan_job_id`` (once: a retry with the same id finds
    it), claims the URL's one running-scan marker, and starts the workflow.

    Returns ``(scan, started)``: ``started`` is False when another scan of the URL was already
    running (that scan is returned; this one is discarded) or when an earlier call with this id
    already started it. When the workflow does not start, everything this call did is undone —
    the active marker released, the enrollment ``enrolled_id`` released, the scan marked failed
    (``start_failed``; or deleted with ``keep_failed=False``, for a caller that retries with the
    same id) — and ``ServiceUnavailable`` (``scan_start_failed``) is raised.

    ``concurrency_limit`` > 0 makes the scan hold one of that many running-scan leases of the
    workspace (``RUNSLOT#n``, released by every terminal transition); when none is free the start is
    undone the same way and ``rate_limited`` (429) is raised, so N parallel starts with M free
    leases accept exactly min(N, M)."""
    deadline = get_settings().scan_timeout_seconds
    scan = _queued_scan(
        workspace_id, target_url, scan_mode, scan_job_id, monitored_url_id, trigger, render, deadline
    )
    if scan.status != "queued" or scan.execution_arn:
        return scan, False  # an earlier attempt got it started (or settled it)
    running = _claim_or_running_scan(workspace_id, target_url, scan_job_id, deadline)
    if running is not None:
        scans.discard_scan(scan_job_id)
        return running, False
    if concurrency_limit > 0:
        _claim_lease_or_refuse(
            workspace_id, target_url, scan_job_id, enrolled_id, concurrency_limit, deadline
        )
    _start_workflow(scan_job_id, workspace_id, target_url, enrolled_id, keep_failed=keep_failed)
    return scan, True


def _queued_scan(
    workspace_id: str,
    target_url: str,
    scan_mode: str,
    scan_job_id: str,
    monitored_url_id: str | None,
    trigger: str,
    render: bool,
    deadline: int,
) -> Scan:
    """Writes the queued scan ``scan_job_id``, or reads it back when an earlier call wrote it."""
    existing = scans.create_scan_once(
        workspace_id,
        target_url,
        scan_mode,
        scan_job_id,
        monitored_url_id=monitored_url_id,
        deadline_seconds=deadline,
        trigger=trigger,
        render=render,
    )
    if existing is None:  # written and discarded in between (it lost the URL's marker): retry
        raise _setting_up()
    return existing


def _claim_lease_or_refuse(
    workspace_id: str, target_url: str, scan_job_id: str, enrolled_id: str | None, limit: int, deadline: int
) -> None:
    """Holds one of the workspace's ``limit`` running-scan leases for the scan, or undoes the start
    and raises the 429: every lease went to a parallel start since the pre-check."""
    if (
        scans.claim_concurrency_lease(workspace_id, scan_job_id, limit=limit, ttl_seconds=deadline)
        is not None
    ):
        return
    from botscope import ratelimit

    scans.release_active(workspace_id, target_url, scan_job_id)
    scans.discard_scan(scan_job_id)
    if enrolled_id:
        monitoring.release(workspace_id, enrolled_id)
    raise ratelimit.scan_limit_refusal(limit, limit)


def _start_workflow(
    scan_job_id: str, workspace_id: str, target_url: str, enrolled_id: str | None, *, keep_failed: bool
) -> None:
    """Starts the scan's execution and records it on the scan; a start that fails is undone."""
    try:
        from botscope.workflow.starter import start_scan_execution

        execution_arn = start_scan_execution(scan_job_id, workspace_id)
    except Exception as exc:
        _undo_start(scan_job_id, workspace_id, target_url, enrolled_id, exc, keep_failed=keep_failed)
        raise ServiceUnavailable(
            "The scan could not be started; nothing was kept. Retry in a few seconds.",
            code="scan_start_failed",
            headers={"Retry-After": "5"},
        ) from exc
    scans.set_execution_arn(scan_job_id, execution_arn)


def _setting_up() -> ServiceUnavailable:
    return ServiceUnavailable(
        "A scan of this URL is being set up; retry in a second.",
        code="scan_start_failed",
        headers={"Retry-After": "1"},
    )


def _claim_or_running_scan(
    workspace_id: str, target_url: str, scan_job_id: str, deadline: int
) -> Scan | None:
    """Claims the URL's active marker for ``scan_job_id`` (None), or returns the scan that holds it.
    A holder past its deadline is settled as timed out first, which frees the marker."""
    for _ in range(3):
        running_id = scans.claim_active(workspace_id, target_url, scan_job_id, ttl_seconds=deadline)
        if running_id is None:
            return None
        holder = scans.get_scan(running_id)
        if holder is not None:
            holder = expire_if_overdue(holder)
            if holder.is_active:
                return holder
    raise _setting_up()


def _audit_enrollment(principal: Principal, monitored_url_id: str | None, target_url: str) -> None:
    audit.record(principal, "monitoring.enrolled", monitored_url_id or "", {"target_url": target_url})


def _undo_start(
    scan_job_id: str,
    workspace_id: str,
    target_url: str,
    enrolled_id: str | None,
    exc: Exception,
    *,
    keep_failed: bool,
) -> None:
    """Leaves nothing behind from a scan whose workflow did not start."""
    from botscope.observability import logger

    logger.warning("scan workflow did not start", extra={"scan_job_id": scan_job_id, "error": repr(exc)})
    if keep_failed:  # the failed scan's end releases its marker
        scans.mark_failed(scan_job_id, "start_failed", "The scan workflow could not be started.")
    else:
        scans.release_active(workspace_id, target_url, scan_job_id)
        scans.discard_scan(scan_job_id)
    if enrolled_id:
        monitoring.release(workspace_id, enrolled_id)


def _count_metric(name: str) -> None:
    try:
        from aws_lambda_powertools.metrics import MetricUnit

        from botscope.observability import metrics

        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    except Exception:  # noqa: BLE001, S110 - a metric must never fail a request
        pass


# --- read --------------------------------------------------------------------------------------


def expire_if_overdue(scan: Scan) -> Scan:
    """A queued/running scan past its deadline is failed with ``scan_timeout`` (the workflow's own
    timeout ends the execution without running its Catch, so the status is settled when it is
    read: no scan stays queued/running forever). The failure itself (status, ``scan.failed``
    event, monitoring hook) is the workflow's ``expire_if_overdue``, so there is one definition.
    Returns the scan as it now is."""
    if not scan.is_active or not scan.deadline_at:
        return scan
    if utcnow() <= parse_iso(scan.deadline_at) + timedelta(seconds=OVERDUE_GRACE_SECONDS):
        return scan
    from botscope.workflow.stages import expire_if_overdue as expire_overdue_scan

    return expire_overdue_scan(scan)


def _owned_scan(principal: Principal, scan_job_id: str) -> Scan:
    return expire_if_overdue(scans.get_scan_for_workspace(principal.workspace_id, scan_job_id))


def get_scan_status(principal: Principal, scan_job_id: str) -> dict[str, Any]:
    """GET /api/v1/scans/{id}: status, progress and path runs. 404 for another workspace's scan."""
    scan = _owned_scan(principal, scan_job_id)
    return status_view(scan, scans.list_path_runs(scan_job_id))


def _reported_scan(principal: Principal, scan_job_id: str) -> tuple[Scan, str]:
    """A scan of the caller's workspace that has a report, and the report's key; otherwise the
    error that says why it has none (cancelled early, failed, still running)."""
    scan = _owned_scan(principal, scan_job_id)
    if scan.status == "cancelled" and scan.report_key:
        return scan, scan.report_key  # its partial report, marked "complete": false
    if scan.status == "cancelled":
        raise ScanCancelledError("The scan was cancelled before anything was probed; it has no report.")
    if scan.status == "failed":
        code, message = (scan.error.code, scan.error.message) if scan.error else ("unknown", "")
        raise ScanFailedError(f"The scan failed ({code}): {message}".strip())
    if scan.status != "completed":
        hint = poll_hint_seconds(scan.status) or 5
        raise ScanNotReady(
            f"The scan is {scan.status}; poll {links(scan_job_id)['self']} until it completes.",
            headers={"Retry-After": str(hint)},
        )
    return scan, scan.report_key or reports.report_key(scan_job_id)


def get_report(principal: Principal, scan_job_id: str) -> dict[str, Any]:
    """GET /api/v1/scans/{id}/report: the assembled public report (docs/report.md)."""
    _scan, report_key = _reported_scan(principal, scan_job_id)
    return reports.get_report(report_key)


def get_findings(principal: Principal, scan_job_id: str) -> dict[str, Any]:
    """GET /api/v1/scans/{id}/findings: the public-safe findings of a completed scan."""
    scan, report_key = _reported_scan(principal, scan_job_id)
    report = reports.get_report(report_key)
    return {
        "scan_job_id": scan_job_id,
        "ruleset_version": scan.ruleset_version or report.get("ruleset_version"),
        "findings": list(report.get("findings") or []),
    }


# --- cancel ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanCancellation:
    body: dict[str, Any]  # the scan's status representation after the cancel
    cancelled_now: bool  # False: the scan had already ended (completed, failed or cancelled)

    @property
    def status_code(self) -> int:
        return 202 if self.cancelled_now else 200


def cancel_scan(principal: Principal, scan_job_id: str) -> ScanCancellation:
    """POST /api/v1/scans/{id}/cancel (and the MCP ``cancel_scan`` tool). Idempotent.

    The cancel is recorded first (status ``cancelled``, one conditional write, which also releases
    the URL's running-scan marker): from then on no path run can start a probe
    (``botscope.store.scans.start_path_run``). Then the execution is stopped, pending path runs end
    ``cancelled``, the partial report is stored marked incomplete and ``scan.cancelled`` is
    published (``botscope.workflow.stages.settle_cancelled_scan``). A scan that already ended is
    returned as it is; a scan cancelled earlier has those steps finished if an earlier request was
    interrupted."""
    from botscope.workflow.stages import settle_cancelled_scan

    scan = _owned_scan(principal, scan_job_id)
    if scan.is_active:
        cancelled = scans.mark_cancelled(scan_job_id)
        if cancelled is not None:
            release_scan_capacity(cancelled)
            settled = settle_cancelled_scan(cancelled)
            audit.record(principal, "scan.cancelled", scan_job_id, {"target_url": scan.target_url})
            _count_metric("ScansCancelled")
            return ScanCancellation(
                status_view(settled, scans.list_path_runs(scan_job_id)), cancelled_now=True
            )
        scan = scans.get_scan(scan_job_id) or scan  # it ended meanwhile
    if scan.status == "cancelled":
        scan = settle_cancelled_scan(scan)
    return ScanCancellation(status_view(scan, scans.list_path_runs(scan_job_id)), cancelled_now=False)


def release_scan_capacity(scan: Scan) -> None:
    """Frees what a running scan holds against the workspace's limits: its URL's running-scan
    marker and its concurrent-scan lease (``RUNSLOT#n``). The one place a scan that ends outside
    the workflow (a cancel) gives its capacity back; safe to call again (each is released only
    while this scan holds it)."""
    scans.release_active(scan.workspace_id, scan.target_url, scan.scan_job_id)
    scans.release_concurrency_lease(scan.workspace_id, scan.scan_job_id)


def list_scans(
    principal: Principal, limit: int = DEFAULT_PAGE_SIZE, starting_after: str | None = None
) -> dict[str, Any]:
    """GET /api/v1/scans: newest first, ``{"data": [...], "has_more": bool}``."""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise _invalid("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
    if starting_after is not None and not ids.is_id(starting_after, "scan"):
        raise _invalid("starting_after", "must be a scan id (scan_…)")
    items, has_more = scans.list_scans(principal.workspace_id, limit, starting_after)
    return {"data": [summary_view(expire_if_overdue(s)) for s in items], "has_more": has_more}
