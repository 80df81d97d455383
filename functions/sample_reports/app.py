"""SampleReportsFunction (EventBridge schedule, daily): starts today's sample scans, or publishes
today's tabs once their scans have all finished (``botscope.monitoring.sample_reports``)."""

from botscope.monitoring import sample_reports
from botscope.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event, context):
    return sample_reports.refresh()
