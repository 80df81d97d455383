"""ScanWorkflow stage Analyze: findings and the report (stored in S3)."""

from botscope.workflow.handler import stage_handler


@stage_handler
def lambda_handler(event, context):
    from botscope.workflow import stages  # first invocation: see botscope.workflow.handler

    return stages.analyze(event["scan_job_id"], event["workspace_id"])
