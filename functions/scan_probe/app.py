"""ScanWorkflow stage ProbePathRun (one Map item): fetch one path with one profile."""

from botscope.workflow.handler import stage_handler


@stage_handler
def lambda_handler(event, context):
    from botscope.workflow import stages  # first invocation: see botscope.workflow.handler

    return stages.probe_path_run(event["scan_job_id"], event["workspace_id"], event["path_run_id"])
