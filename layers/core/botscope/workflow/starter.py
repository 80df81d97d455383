"""Starts a ScanWorkflow execution for a scan. The execution name is the scan id, so starting the
same scan twice is rejected by Step Functions instead of running it twice."""

from __future__ import annotations

import json

from botscope.config import get_settings
from botscope.store.table import sfn_client


def start_scan_execution(scan_job_id: str, workspace_id: str) -> str:
    """Returns the execution ARN. Raises botocore ClientError on failure (the caller marks the scan failed)."""
    client = sfn_client()
    try:
        response = client.start_execution(
            stateMachineArn=get_settings().state_machine_arn,
            name=scan_job_id,
            input=json.dumps({"scan_job_id": scan_job_id, "workspace_id": workspace_id}),
        )
    except client.exceptions.ExecutionAlreadyExists:
        arn = get_settings().state_machine_arn.replace(":stateMachine:", ":execution:")
        return f"{arn}:{scan_job_id}"
    return str(response["executionArn"])
