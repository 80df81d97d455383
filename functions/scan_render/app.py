"""ScanWorkflow stage RenderPathRun (one item of the rendered Map): load one path in headless
Chromium through the egress guard. Packaged as a container image (Dockerfile beside it)."""

from botscope.workflow.handler import stage_handler


@stage_handler
def lambda_handler(event, context):
    from botscope.workflow import stages  # first invocation: see botscope.workflow.handler

    return stages.probe_path_run(event["scan_job_id"], event["workspace_id"], event["path_run_id"])
