"""SampleReportsFunction (EventBridge schedule, daily): starts today's sample scans, or publishes
today's tabs once their scans have all finished (``botscope.monitoring.sample_reports``)."""

from botscope.observability import logger, metrics
from botscope.service import monitoring


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event, context):
    return monitoring.refresh_sample_reports()
