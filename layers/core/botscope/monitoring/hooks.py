"""What the scan workflow asks of monitoring (called by ``botscope.workflow.stages``):

- Analyze: ``previous_report(scan)`` → the report the new report's ``changes`` section is computed
  against (the previous completed scan of the same monitored URL).
- Finalize: ``after_scan_completed(scan, report)`` → updates the monitored URL (last scan, summary),
  runs change detection (``botscope.monitoring.changes``) and publishes a confirmed change as
  ``monitoring.findings_changed``.
- MarkFailed: ``after_scan_failed(scan)`` → notes the failure; the schedule already moved on when the
  scan was started, and a failure is never a defense change.

These hooks never raise: a monitoring problem must not fail or retry a customer's scan (Finalize
runs once per scan). Problems are logged with the ids and counted as a metric.

Exactly-once publication: the evaluation of a scan is written to the monitored URL item together
with the event it produces (``outbox_event``), conditional on no other scan having been evaluated
since the item was read. The event is published after that write and the outbox entry removed, so
a crash between the two leaves the event in the outbox for the next evaluation to publish.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botscope.links import scan_path
from botscope.monitoring import changes
from botscope.store import monitoring as store
from botscope.store.monitoring import MonitoredUrl, OutboxEvent

if TYPE_CHECKING:
    from botscope.store.scans import Scan

EVENT_TYPE = "monitoring.findings_changed"
MAX_PENDING = 500
# Evaluations of one scan retried after losing the item to a concurrent evaluation.
MAX_EVALUATION_ATTEMPTS = 5
# Keep the event far below the fan-out's payload cap (webhooks are a thin payload).
MAX_EVENT_CHANGES_BYTES = 8 * 1024
SUMMARY_FIELDS = ("posture", "score", "measures_present", "vendors", "findings_by_severity")


def _log() -> Any:
    from botscope.observability import logger

    return logger


def _count(name: str) -> None:
    try:
        from aws_lambda_powertools.metrics import MetricUnit

        from botscope.observability import metrics

        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    except Exception:  # noqa: BLE001, S110 - a metric must never fail the caller
        pass


def previous_report(scan: Scan) -> dict[str, Any] | None:
    """The report of the previous completed scan of the same monitored URL, for the ``changes``
    section (None when the scan is not monitored or has no predecessor)."""
    monitored_url_id = scan.monitored_url_id
    if not monitored_url_id:
        return None
    try:
        from botscope.store import reports, scans

        item = store.get_monitored(scan.workspace_id, monitored_url_id)
        if item is None:
            return None
        previous_id = item.last_completed_scan_job_id or item.last_scan_job_id
        if not previous_id or previous_id == scan.scan_job_id:
            return None
        previous = scans.get_scan(previous_id)
        if not previous or previous.status != "completed" or not previous.report_key:
            return None
        return reports.get_report(previous.report_key)
    except Exception:  # noqa: BLE001 - no predecessor is better than a failed scan
        _log().exception(
            "monitoring: previous report unavailable",
            extra={"scan_job_id": scan.scan_job_id, "monitored_url_id": monitored_url_id},
        )
        return None


def summary_of(report: dict[str, Any], pending: int, last_change_at: str | None) -> dict[str, Any]:
    summary = report.get("summary") or {}
    return {
        **{k: summary.get(k) for k in SUMMARY_FIELDS},
        "findings_count": len(report.get("findings") or []),
        "ruleset_version": report.get("ruleset_version"),
        "pending_changes": pending,
        "last_change_at": last_change_at,
    }


def _event_data(
    scan: Scan,
    item: MonitoredUrl,
    evaluation: changes.Evaluation,
    baseline_scan_job_id: str | None,
) -> dict[str, Any]:
    from botscope.config import get_settings

    summary = evaluation.event_summary()
    items = summary.pop("changes")
    # Trim the listed changes to a size budget; the counts always cover all of them.
    kept: list[dict[str, Any]] = []
    size = 0
    for entry in items:
        size += len(json.dumps(entry, default=str))
        if size > MAX_EVENT_CHANGES_BYTES:
            summary["truncated"] = True
            break
        kept.append(entry)
    base = get_settings().public_base_url.rstrip("/")
    scan_id = scan.scan_job_id
    return {
        "monitored_url_id": item.monitored_url_id,
        "target_url": item.target_url,
        "scan_job_id": scan_id,
        "since_scan_job_id": baseline_scan_job_id,
        "first_seen_scan_job_id": evaluation.confirmed_since or scan_id,
        "confirmation": "immediate" if evaluation.immediate else "confirmed",
        "summary": {k: summary[k] for k in ("added", "removed", "changed")},
        "changes": kept,
        "truncated": bool(summary.get("truncated")),
        "links": {"scan": base + scan_path(scan_id), "report": base + scan_path(scan_id, "report")},
    }


def _critical_paths(scan_job_id: str) -> set[str]:
    from botscope.store import scans

    try:
        return {str(r.path) for r in scans.list_path_runs(scan_job_id) if r.critical}
    except Exception:  # noqa: BLE001 - the path pattern still classifies critical paths
        return set()


def _publish_outbox(workspace_id: str, monitored_url_id: str, outbox: OutboxEvent) -> None:
    from botscope import ids
    from botscope.isotime import now_iso
    from botscope.webhooks import fanout

    # The URL's change history (GET /monitoring/{id}) holds the event's data, keyed by its scan.
    store.record_change(
        workspace_id,
        monitored_url_id,
        outbox.event_key,
        outbox.data,
        detected_at=outbox.detected_at or now_iso(),
    )
    # Stable per evaluated scan: a publish retried from the outbox reuses the deliveries it began.
    fanout.publish_event(
        workspace_id,
        EVENT_TYPE,
        outbox.data,
        event_id=ids.derived_id("evt", outbox.event_key, EVENT_TYPE),
    )
    store.clear_outbox(workspace_id, monitored_url_id, outbox.event_key)
    _count("MonitoringChangesPublished")


def _advance_samples(scan: Scan) -> None:
    """A sample report's scan finished: publish its day if that was the last one."""
    from botscope.monitoring import sample_reports

    if scan.workspace_id != sample_reports.SAMPLES_WORKSPACE_ID:
        return
    try:
        sample_reports.refresh(start_new_day=False)
    except Exception:  # noqa: BLE001 - the scheduler's next run publishes it
        _log().exception("sample reports: could not publish", extra={"scan_job_id": scan.scan_job_id})


def after_scan_completed(scan: Scan, report: dict[str, Any]) -> None:
    """Updates the monitored URL (last scan, summary) and fires ``monitoring.findings_changed`` when
    a confirmed change is found."""
    _advance_samples(scan)
    monitored_url_id = scan.monitored_url_id
    if not monitored_url_id:
        return
    try:
        _after_scan_completed(scan, report, monitored_url_id)
    except Exception:  # noqa: BLE001 - see the module docstring
        _count("MonitoringHookErrors")
        _log().exception(
            "monitoring: change detection failed",
            extra={"scan_job_id": scan.scan_job_id, "monitored_url_id": monitored_url_id},
        )


def _after_scan_completed(scan: Scan, report: dict[str, Any], monitored_url_id: str) -> None:
    workspace_id, scan_id = scan.workspace_id, scan.scan_job_id
    critical = _critical_paths(scan_id)
    for _ in range(MAX_EVALUATION_ATTEMPTS):
        item = store.get_monitored(workspace_id, monitored_url_id)
        if item is None:
            return  # released while the scan ran
        if item.outbox_event is not None:  # an earlier evaluation wrote its event but did not publish it
            _publish_outbox(workspace_id, monitored_url_id, item.outbox_event)
        last = item.last_evaluated_scan_job_id
        if last and last >= scan_id:
            return  # already evaluated (a retry), or a newer scan was evaluated first: ids sort by time
        saved = _evaluate_and_save(scan, report, item, critical)
        if saved is not None:
            break
    else:
        _log().warning(
            "monitoring: gave up evaluating after concurrent updates", extra={"scan_job_id": scan_id}
        )
        return
    evaluation, outbox_event = saved
    _log_evaluation(scan_id, monitored_url_id, evaluation)
    if outbox_event is not None:
        _publish_outbox(workspace_id, monitored_url_id, outbox_event)


def _evaluate_and_save(
    scan: Scan, report: dict[str, Any], item: MonitoredUrl, critical: set[str]
) -> tuple[changes.Evaluation, OutboxEvent | None] | None:
    """Compares the scan with the URL's baseline and writes the outcome (with the event it fires,
    in the outbox) conditionally on ``item`` being the last evaluated state. None when another
    evaluation got there first (the caller reads the item again)."""
    from botscope.isotime import now_iso

    scan_id = scan.scan_job_id
    baseline = changes.Snapshot.from_item(item.baseline)
    current = changes.snapshot_from_report({**report, "scan_job_id": scan_id}, critical_paths=critical)
    evaluation = changes.evaluate(baseline, item.pending_changes, current)
    last_change_at = now_iso() if evaluation.fired else item.last_change_at
    outbox_event = None
    if evaluation.fired:
        outbox_event = OutboxEvent(
            event_key=scan_id,
            detected_at=now_iso(),
            data=_event_data(scan, item, evaluation, baseline.scan_job_id if baseline else None),
        )
    saved = store.save_evaluation(
        item.workspace_id,
        item.monitored_url_id,
        expected_last_evaluated=item.last_evaluated_scan_job_id,
        scan_job_id=scan_id,
        scanned_at=scan.completed_at or now_iso(),
        baseline=evaluation.baseline.to_item(),
        pending_changes=evaluation.pending[:MAX_PENDING],
        summary=summary_of(report, len(evaluation.pending), last_change_at),
        last_change_at=last_change_at,
        last_evaluation={
            "scan_job_id": scan_id,
            "result": evaluation.reason,
            "suppressed": evaluation.suppressed,
        },
        outbox_event=outbox_event.to_dict() if outbox_event is not None else None,
    )
    return (evaluation, outbox_event) if saved else None


def _log_evaluation(scan_id: str, monitored_url_id: str, evaluation: changes.Evaluation) -> None:
    _log().info(
        "monitoring: scan evaluated",
        extra={
            "scan_job_id": scan_id,
            "monitored_url_id": monitored_url_id,
            "result": evaluation.reason,
            "fired": len(evaluation.fired),
            "pending": len(evaluation.pending),
            "suppressed": evaluation.suppressed,
        },
    )


def after_scan_failed(scan: Scan) -> None:
    """Keeps the monitored URL scheduled after a failed scan (a failure is not a defense change)."""
    _advance_samples(scan)
    monitored_url_id = scan.monitored_url_id
    if not monitored_url_id:
        return
    try:
        from botscope.isotime import now_iso

        store.record_failed_scan(
            scan.workspace_id,
            monitored_url_id,
            scan.scan_job_id,
            scan.completed_at or now_iso(),
            scan.error.code if scan.error else None,
        )
    except Exception:  # noqa: BLE001 - see the module docstring
        _log().exception(
            "monitoring: could not record a failed scan",
            extra={"scan_job_id": scan.scan_job_id, "monitored_url_id": monitored_url_id},
        )
