"""MonitorSchedulerFunction (EventBridge schedule, every few minutes): starts the scans of the
monitored URLs that are due (``botscope.monitoring.scheduler``), then publishes today's sample
reports if their scans have all finished."""

from aws_lambda_powertools.metrics import MetricUnit
from botscope.monitoring import sample_reports, scheduler
from botscope.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event, context):
    stats = scheduler.run_once()
    metrics.add_metric(name="MonitoredScansStarted", unit=MetricUnit.Count, value=stats.started)
    samples = sample_reports.refresh(start_new_day=False)
    return {**stats.as_dict(), "sample_reports": samples.get("action")}
