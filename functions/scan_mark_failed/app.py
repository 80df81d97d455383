"""ScanWorkflow Catch handler. With a ``path_run_id`` (the Map item's Catch) only that path run is
marked failed and the scan goes on; without one the whole scan is marked failed."""

from botscope.workflow.handler import stage_handler


@stage_handler
def lambda_handler(event, context):
    from botscope.workflow import stages  # first invocation: see botscope.workflow.handler

    if event.get("path_run_id"):
        return stages.mark_path_run_failed(event["scan_job_id"], event["path_run_id"], event.get("error"))
    return stages.mark_scan_failed(event["scan_job_id"], event["workspace_id"], event.get("error"))
