"""The scan workflow's stages, one function per state of functions/scan_workflow/scan_workflow.asl.json.

    Prepare ─> ProbePathRuns (Map: probe_path_run, or mark_path_run_failed) ─> Analyze ─> Finalize
       └────────────── any stage failure ──────────────> mark_scan_failed ─> Fail

Stages exchange ids; what they produce lives in the table (scan, path runs) and in the private
bucket (plan, observations, report: ``botscope.store.reports``). Every stage is safe to run twice
for the same input (Step Functions retries; a Catch may fire after a partial success): status
writes are conditional and never leave a terminal state (``botscope.store.scans``).

The scanner engine is imported inside the stages that use it: Finalize and MarkFailed never pay
for it, and no stage pays for it at cold-import time.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.metrics import MetricUnit

from botscope import errors, ids
from botscope.agent_identity import scan_signer
from botscope.config import get_settings
from botscope.isotime import now_iso, parse_iso, utcnow
from botscope.links import scan_path
from botscope.monitoring import hooks
from botscope.observability import logger, metrics
from botscope.store import reports, scans
from botscope.store.scans import PathRun, Scan
from botscope.webhooks import fanout

if TYPE_CHECKING:
    from botscope.scanner.model import Observation, ScanPlan
    from botscope.scanner.targets import NetworkPolicy


class ScanNotActive(Exception):
    """The scan is missing or already finished (e.g. timed out): nothing to do but stop."""


# --- helpers -----------------------------------------------------------------------------------


def _network_policy() -> NetworkPolicy:
    """Production allows nothing private; local tests and the demo opt ranges in
    (``BOTSCOPE_ALLOW_PRIVATE_TARGETS``)."""
    from botscope.scanner.targets import NetworkPolicy

    return NetworkPolicy(allow_private=get_settings().allowed_private_networks)


def _active_scan(scan_job_id: str) -> Scan:
    scan = scans.get_scan(scan_job_id)
    if scan is None:
        raise ScanNotActive(f"scan {scan_job_id} does not exist")
    if not scan.is_active:
        raise ScanNotActive(f"scan {scan_job_id} is already {scan.status}")
    return scan


def _load_plan(scan_job_id: str) -> ScanPlan:
    from botscope.scanner.model import ScanPlan

    return ScanPlan.model_validate(reports.get_plan(scan_job_id))


def _duration_ms(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    return int((parse_iso(end) - parse_iso(start)).total_seconds() * 1000)


def _count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    metrics.add_metric(name=name, unit=unit, value=value)


def _run_monitoring_hook(hook: Any, *args: Any) -> None:
    """Monitoring reacts to a scan's end, but cannot undo it: once the status is terminal, a
    failing hook is logged and counted, and the customer's scan event still goes out (a retry of
    the stage would find the scan terminal and do nothing, so raising would lose the event)."""
    try:
        hook(*args)
    except Exception:
        logger.exception("monitoring hook failed", extra={"hook": getattr(hook, "__name__", str(hook))})
        _count("MonitoringHookFailed")


# --- Prepare -----------------------------------------------------------------------------------


def prepare(scan_job_id: str, workspace_id: str) -> dict[str, Any]:
    """Normalizes and guards the target, plans the path runs, stores the plan and the pending path
    runs. Returns ``{scan_job_id, workspace_id, path_runs: [{path_run_id}]}`` for the Map."""
    from botscope.scanner import engine

    scan = _active_scan(scan_job_id)
    if scans.mark_running(scan_job_id):
        _count("ScansStarted")
    if scan.path_runs_total:  # a retried Prepare: the plan and runs are already stored
        runs = scans.list_path_runs(scan_job_id)
    else:
        plan = engine.plan_scan_sync(
            scan.target_url,
            scan.scan_mode,
            _network_policy(),
            extra_ca_bundle=get_settings().extra_ca_bundle or None,
            signer=scan_signer(),
            render=scan.render,
        )
        for spec in plan.path_runs:
            spec.path_run_id = ids.new_id("run")
        # The plan first: a path run that exists always has its spec in the stored plan.
        reports.put_plan(scan_job_id, plan.model_dump(mode="json"))
        runs = scans.put_path_runs(scan_job_id, [spec.model_dump() for spec in plan.path_runs])
        _count("PathRuns", len(runs))
    logger.info("scan prepared", extra={"path_runs": len(runs)})
    # Rendered path runs go to their own Map (the container-image function with Chromium).
    return {
        "scan_job_id": scan_job_id,
        "workspace_id": workspace_id,
        "path_runs": [{"path_run_id": run.path_run_id} for run in runs if run.profile != "rendered"],
        "rendered_runs": [{"path_run_id": run.path_run_id} for run in runs if run.profile == "rendered"],
    }


# --- Probe -------------------------------------------------------------------------------------


def probe_path_run(scan_job_id: str, workspace_id: str, path_run_id: str) -> dict[str, Any]:
    """Fetches one path with one profile, stores the observation, records the path run."""
    from botscope.scanner import engine

    run = scans.get_path_run(scan_job_id, path_run_id)
    if run is None:
        raise ScanNotActive(f"path run {path_run_id} does not exist")
    if run.status in scans.RUN_TERMINAL_STATUSES:  # a retry after success
        return {"path_run_id": path_run_id, "status": run.status, "outcome": run.outcome}
    plan = _load_plan(scan_job_id)
    spec = next((s for s in plan.path_runs if s.path_run_id == path_run_id), None)
    if spec is None:
        raise ScanNotActive(f"path run {path_run_id} is not in the plan")
    if not scans.start_path_run(scan_job_id, path_run_id):
        stopped = _probe_not_allowed(scan_job_id, path_run_id)
        if stopped is not None:
            return stopped
    observation = engine.probe_sync(
        spec,
        plan.target,
        _network_policy(),
        extra_ca_bundle=get_settings().extra_ca_bundle or None,
        signer=scan_signer(),
    )
    key = reports.put_observation(scan_job_id, path_run_id, observation.model_dump(mode="json"))
    # A fetch that got no answer (timeout, refused, guard) is a failed path run; the observation is
    # kept anyway, since "no answer" is itself evidence (a tarpit, a drop rule).
    failed = observation.error is not None and observation.http_status is None
    status: Literal["completed", "failed"] = "failed" if failed else "completed"
    scans.update_path_run(
        scan_job_id,
        path_run_id,
        status=status,
        outcome=observation.outcome,
        http_status=observation.http_status,
        duration_ms=observation.duration_ms,
        error=observation.error.model_dump() if observation.error else None,
        observation_key=key,
    )
    _count(f"PathRuns{status.capitalize()}")
    scan = scans.get_scan(scan_job_id)
    if (
        scan is not None
        and scan.status == "cancelled"
        and not any(r.status == "running" for r in scans.list_path_runs(scan_job_id))
    ):
        # The last probe in flight when the cancel was recorded: the partial report now holds every
        # answer (one writer, not one per settling probe).
        _store_partial_report(scan)
    if observation.duration_ms is not None:
        _count("PathRunDuration", observation.duration_ms, MetricUnit.Milliseconds)
    logger.info(
        "path run probed",
        extra={"path_run_id": path_run_id, "status": status, "outcome": observation.outcome},
    )
    return {"path_run_id": path_run_id, "status": status, "outcome": observation.outcome}


def _probe_not_allowed(scan_job_id: str, path_run_id: str) -> dict[str, Any] | None:
    """Why a path run could not be moved to running: the scan ended (cancelled, timed out) — then
    no probe is sent and a pending run ends ``cancelled`` — or the run is already finished. None
    when the run is ``running`` from an earlier attempt of this probe and the scan still runs: the
    retry probes again."""
    scan = scans.get_scan(scan_job_id)
    scan_active = scan is not None and scan.is_active
    run = scans.get_path_run(scan_job_id, path_run_id)
    if scan_active and run is not None and run.status == "running":
        return None
    if not scan_active and run is not None and run.status in scans.RUN_ACTIVE_STATUSES:
        scans.update_path_run(scan_job_id, path_run_id, status="cancelled", error=CANCELLED_RUN_ERROR)
        run = scans.get_path_run(scan_job_id, path_run_id) or run
    logger.info(
        "path run not probed: the scan has ended",
        extra={"path_run_id": path_run_id, "scan_status": scan.status if scan else None},
    )
    return {
        "path_run_id": path_run_id,
        "status": run.status if run else None,
        "outcome": run.outcome if run else None,
    }


CANCELLED_RUN_ERROR = {"code": "cancelled", "message": "The scan ended before this path was probed."}


def mark_path_run_failed(scan_job_id: str, path_run_id: str, error: dict[str, Any] | None) -> dict[str, Any]:
    """The Map item's Catch: this path run failed after its retries; the scan goes on."""
    code, message = error_from_states(error)
    changed = scans.update_path_run(
        scan_job_id, path_run_id, status="failed", outcome="error", error={"code": code, "message": message}
    )
    if changed:
        _count("PathRunsFailed")
    logger.warning("path run failed", extra={"path_run_id": path_run_id, "code": code})
    return {"path_run_id": path_run_id, "status": "failed"}


# --- Analyze -----------------------------------------------------------------------------------


def _observations(plan: ScanPlan, runs: list[PathRun]) -> list[Observation]:
    """One observation per planned path run: the stored one, or an error observation for a run
    that never stored one (it failed before, or its probe crashed)."""
    from botscope.scanner.model import Observation, ProbeError

    runs_by_id = {r.path_run_id: r for r in runs}
    observations = []
    for spec in plan.path_runs:
        run = runs_by_id.get(spec.path_run_id or "")
        if run and run.observation_key:
            observations.append(Observation.model_validate(reports.get_observation(run.observation_key)))
            continue
        error = (
            ProbeError(code=run.error.code, message=run.error.message)
            if run and run.error
            else ProbeError(code="not_probed", message="The path run did not complete.")
        )
        observations.append(Observation(spec=spec, outcome="error", error=error))
    return observations


def analyze(scan_job_id: str, workspace_id: str) -> dict[str, Any]:
    """Turns the observations into findings and the report; stores the report in S3."""
    from botscope.scanner import engine

    scan = _active_scan(scan_job_id)
    plan = _load_plan(scan_job_id)
    observations = _observations(plan, scans.list_path_runs(scan_job_id))
    report = engine.analyze(
        plan,
        observations,
        scan_job_id=scan_job_id,
        started_at=scan.started_at or scan.created_at,
        completed_at=now_iso(),
        previous_report=hooks.previous_report(scan),
    )
    key = reports.put_report(scan_job_id, report)
    logger.info("scan analyzed", extra={"findings": len(report.get("findings") or [])})
    return {"scan_job_id": scan_job_id, "report_key": key}


# --- Finalize ----------------------------------------------------------------------------------


def _event_data(scan: Scan, report: dict[str, Any] | None = None) -> dict[str, Any]:
    """Webhook payload: ids and summary fields, never the report (docs/api.md "Webhooks")."""
    base = get_settings().public_base_url.rstrip("/")  # "" when not configured: a relative link
    data: dict[str, Any] = {
        "scan_job_id": scan.scan_job_id,
        "target_url": scan.target_url,
        "scan_mode": scan.scan_mode,
        "status": scan.status,
        "monitored_url_id": scan.monitored_url_id,
        "created_at": scan.created_at,
        "completed_at": scan.completed_at,
        "links": {"self": base + scan_path(scan.scan_job_id)},
    }
    if report is not None:
        summary = report.get("summary") or {}
        data["summary"] = {
            k: summary.get(k)
            for k in ("posture", "score", "measures_present", "vendors", "findings_by_severity")
        }
        data["findings_count"] = len(report.get("findings") or [])
    if scan.error:
        data["error"] = scan.error.to_dict()
    return data


def finalize(scan_job_id: str, workspace_id: str) -> dict[str, Any]:
    """Marks the scan completed (releasing its active marker), updates monitoring, publishes
    ``scan.completed``. The monitoring update belongs to the call that completes the scan; the
    event is published by whichever attempt finds it not yet published (a retry after a failed
    publish sends it; a second Finalize does not send it twice)."""
    key = reports.report_key(scan_job_id)
    report = reports.get_report(key)
    completed = scans.mark_completed(
        scan_job_id,
        report_key=key,
        ruleset_version=str(report.get("ruleset_version") or ""),
        summary=report.get("summary"),
    )
    scan = scans.get_scan(scan_job_id)
    if scan is None or scan.status != "completed":
        status = scan.status if scan else "unknown"
        logger.warning("scan ended otherwise; nothing to finalize", extra={"status": status})
        return {"scan_job_id": scan_job_id, "status": status}
    if completed:
        _run_monitoring_hook(hooks.after_scan_completed, scan, report)
        _count("ScansCompleted")
        duration = _duration_ms(scan.started_at or scan.created_at, scan.completed_at)
        if duration is not None:
            _count("ScanDuration", duration, MetricUnit.Milliseconds)
        logger.info("scan completed")
    _publish_once(scan, "scan.completed", _event_data(scan, report))
    return {"scan_job_id": scan_job_id, "status": "completed"}


def scan_event_id(scan_job_id: str) -> str:
    """The id of a scan's terminal event (a scan ends once: completed, failed or cancelled), stable across
    stage retries so a retried publish reuses the deliveries of an interrupted one."""
    return ids.derived_id("evt", scan_job_id, "scan.terminal")


def _publish_once(scan: Scan, event_type: str, data: dict[str, Any]) -> None:
    if event_type in scan.published_events:
        return
    event_id = fanout.publish_event(
        scan.workspace_id, event_type, data, event_id=scan_event_id(scan.scan_job_id)
    )
    scans.record_published_event(scan.scan_job_id, event_type, event_id)


# --- Cancel ------------------------------------------------------------------------------------


def settle_cancelled_scan(scan: Scan) -> Scan:
    """Everything that follows a recorded cancel (``botscope.store.scans.mark_cancelled``), each
    step safe to repeat (a retried cancel request finishes what an interrupted one began): the
    execution is stopped, pending path runs end ``cancelled``, the partial report is stored marked
    incomplete, monitoring notes the scan as not completed, ``scan.cancelled`` is published once.
    Returns the scan as it now is."""
    scan_job_id = scan.scan_job_id
    _stop_execution(scan)
    scans.cancel_pending_path_runs(scan_job_id)
    if not scan.report_key:
        _store_partial_report(scan)
    fresh = scans.get_scan(scan_job_id) or scan
    if "scan.cancelled" not in fresh.published_events:
        _run_monitoring_hook(hooks.after_scan_failed, fresh)
        _count("ScansCancelled")
    _publish_once(fresh, "scan.cancelled", _event_data(fresh))
    return scans.get_scan(scan_job_id) or fresh


def _stop_execution(scan: Scan) -> None:
    from botocore.exceptions import ClientError

    from botscope.store.table import sfn_client

    arn = scan.execution_arn
    if not arn:
        return  # not started yet: Prepare finds the scan ended and stops there
    try:
        sfn_client().stop_execution(
            executionArn=arn, error="ScanCancelled", cause="The scan was cancelled through the API."
        )
    except ClientError as exc:
        # Already finished or gone: nothing left to stop.
        if exc.response.get("Error", {}).get("Code") not in {"ExecutionDoesNotExist", "InvalidArn"}:
            raise


def _store_partial_report(scan: Scan) -> None:
    """The report of what was observed before the cancel, marked ``complete: false`` (written again
    as probes in flight at the cancel settle). A scan cancelled before it was planned, or before any
    path run got an answer, has no report."""
    from botscope.scanner import engine
    from botscope.scanner.model import ScanPlan

    scan_job_id = scan.scan_job_id
    stored_plan = reports.find_plan(scan_job_id)
    if stored_plan is None:
        return  # cancelled before Prepare stored a plan
    plan = ScanPlan.model_validate(stored_plan)
    observations = _observations(plan, scans.list_path_runs(scan_job_id))
    try:
        report = engine.analyze(
            plan,
            observations,
            scan_job_id=scan_job_id,
            started_at=scan.started_at or scan.created_at,
            completed_at=scan.completed_at or now_iso(),
        )
    except errors.TargetUnreachable:
        return  # nothing answered yet: no report (a probe still in flight writes it when it settles)
    report["complete"] = False
    report["incomplete_reason"] = "cancelled"
    key = reports.put_report(scan_job_id, report)
    scans.set_report(scan_job_id, key, summary=report.get("summary"), report_complete=False)


# --- MarkFailed --------------------------------------------------------------------------------

# Public-safe text for failures whose own message is internal.
_GENERIC_FAILURE = "An internal error stopped the scan before a report could be produced."


def error_from_states(error: dict[str, Any] | None) -> tuple[str, str]:
    """``(code, message)`` from a Step Functions Catch (``{"Error", "Cause"}``).

    BotScope's typed errors carry a public code and a public message (e.g. the target stopped
    resolving to a public address between POST and Prepare). Anything else is internal: it gets a
    generic code and message, and its details stay in the logs.
    """
    error = error or {}
    name = str(error.get("Error") or "")
    if name == "States.Timeout":
        return "stage_timeout", "A stage of the scan took too long."
    cause: dict[str, Any] = {}
    try:
        parsed = json.loads(error.get("Cause") or "{}")
        cause = parsed if isinstance(parsed, dict) else {}
    except (TypeError, ValueError):
        pass
    error_type = str(cause.get("errorType") or name)
    error_class = getattr(errors, error_type, None)
    if isinstance(error_class, type) and issubclass(error_class, errors.BotScopeError):
        return error_class.code, str(cause.get("errorMessage") or error_class.title)
    if error_type == "ScanNotActive":
        return "scan_not_active", "The scan was no longer running."
    if error_type == "TransientError" or name.startswith("Lambda."):
        return "temporarily_unavailable", "A service the scan depends on was unavailable; try again."
    return "internal_error", _GENERIC_FAILURE


def mark_scan_failed(scan_job_id: str, workspace_id: str, error: dict[str, Any] | None) -> dict[str, Any]:
    """The workflow's Catch: status failed with ``{code, message}`` (never over a terminal status),
    monitoring keeps the URL scheduled, ``scan.failed`` is published."""
    code, message = error_from_states(error)
    logger.warning("scan failed", extra={"code": code, "states_error": (error or {}).get("Error")})
    changed = scans.mark_failed(scan_job_id, code, message)
    scan = scans.get_scan(scan_job_id)
    if scan is None or scan.status != "failed":
        return {"scan_job_id": scan_job_id, "status": scan.status if scan else "unknown"}
    if changed:
        _run_monitoring_hook(hooks.after_scan_failed, scan)
        _count("ScansFailed")
    _publish_once(scan, "scan.failed", _event_data(scan))
    return {
        "scan_job_id": scan_job_id,
        "status": "failed",
        "error": scan.error.to_dict() if scan.error else None,
    }


# --- deadline ----------------------------------------------------------------------------------


def sweep_overdue_scans() -> int:
    """Fails every queued/running scan past its deadline (``scan_timeout``, ``scan.failed``
    published): the scheduled guarantee that no scan stays queued or running forever, even when
    nobody reads it. Returns how many were expired."""
    expired = 0
    for scan_job_id in scans.list_overdue_scans(now_iso()):
        scan = scans.get_scan(scan_job_id)
        if scan is not None and expire_if_overdue(scan).status == "failed":
            expired += 1
    return expired


def expire_if_overdue(scan: Scan) -> Scan:
    """A queued/running scan past its ``deadline_at`` is marked failed with ``scan_timeout`` (a
    timed-out execution runs no Catch). Returns the scan as it now is. Called by the API's GET
    (``botscope.service.scans.expire_if_overdue`` adds a grace period first) and by sweeps."""
    deadline = scan.deadline_at
    if not scan.is_active or not deadline or utcnow() <= parse_iso(deadline):
        return scan
    if scans.mark_failed(scan.scan_job_id, "scan_timeout", "The scan did not finish in time."):
        fresh = scans.get_scan(scan.scan_job_id) or scan
        _run_monitoring_hook(hooks.after_scan_failed, fresh)
        _count("ScansFailed")
        _publish_once(fresh, "scan.failed", _event_data(fresh))
        return scans.get_scan(scan.scan_job_id) or fresh
    return scans.get_scan(scan.scan_job_id) or scan
