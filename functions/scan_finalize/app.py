"""ScanWorkflow stage Finalize: status completed, monitoring update, scan.completed."""

from botscope.workflow.handler import stage_handler


@stage_handler
def lambda_handler(event, context):
    from botscope.workflow import stages  # first invocation: see botscope.workflow.handler

    return stages.finalize(event["scan_job_id"], event["workspace_id"])
