"""ScanWorkflow stage Prepare: normalize and guard the target, plan the path runs, record them."""

from botscope.workflow.handler import stage_handler


@stage_handler
def lambda_handler(event, context):
    from botscope.workflow import stages  # first invocation: see botscope.workflow.handler

    return stages.prepare(event["scan_job_id"], event["workspace_id"])
