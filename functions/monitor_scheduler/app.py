"""MonitorSchedulerFunction (EventBridge schedule, every few minutes): starts the scans of the
monitored URLs that are due (``botscope.monitoring.scheduler``), fails scans that passed their
deadline (a timed-out execution runs no Catch), then publishes today's sample reports if their
scans have all finished."""

from aws_lambda_powertools.metrics import MetricUnit
from botscope.observability import logger, metrics
from botscope.service import monitoring
from botscope.workflow import stages


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event, context):
    stats = monitoring.run_scheduler()
    metrics.add_metric(name="MonitoredScansStarted", unit=MetricUnit.Count, value=stats.started)
    expired = stages.sweep_overdue_scans()
    metrics.add_metric(name="ScansExpired", unit=MetricUnit.Count, value=expired)
    samples = monitoring.refresh_sample_reports(start_new_day=False)
    return {**stats.as_dict(), "scans_expired": expired, "sample_reports": samples.get("action")}
