"""MonitorSchedulerFunction (EventBridge schedule, every few minutes): starts the scans of the
monitored URLs that are due (``botscope.monitoring.scheduler``), fails scans that passed their
deadline (a timed-out execution runs no Catch), then publishes today's sample reports if their
scans have all finished.

An event whose ``detail.force_rescan`` names a monitored URL (``{"workspace_id", "target_url"}`` or
``{"workspace_id", "monitored_url_id"}``) first makes that URL due now: the local developer loop's
way to watch a change without waiting for the interval (``events/monitor_scheduler_force.json``)."""

from aws_lambda_powertools.metrics import MetricUnit
from botscope.observability import logger, metrics
from botscope.service import monitoring
from botscope.workflow import stages


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event, context):
    forced = None
    force = ((event or {}).get("detail") or {}).get("force_rescan")
    if force:
        forced = monitoring.force_due(
            force["workspace_id"],
            monitored_url_id=force.get("monitored_url_id"),
            target_url=force.get("target_url"),
        )
    stats = monitoring.run_scheduler()
    metrics.add_metric(name="MonitoredScansStarted", unit=MetricUnit.Count, value=stats.started)
    expired = stages.sweep_overdue_scans()
    metrics.add_metric(name="ScansExpired", unit=MetricUnit.Count, value=expired)
    samples = monitoring.refresh_sample_reports(start_new_day=False)
    result = {**stats.as_dict(), "scans_expired": expired, "sample_reports": samples.get("action")}
    if forced:
        result["forced_monitored_url_id"] = forced
    return result
