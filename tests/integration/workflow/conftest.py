"""Fixtures for the scan workflow: moto (in-process) with Step Functions executing the real ASL,
every resource created from template.yaml, and the Lambda seam running our stage handlers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botscope.config import reset_settings
from botscope.store.table import reset_clients

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
STAGES = (
    "ScanPrepareFunction",
    "ScanProbeFunction",
    "ScanAnalyzeFunction",
    "ScanFinalizeFunction",
    "ScanMarkFailedFunction",
)


@dataclass
class Workflow:
    resources: Any
    seam: Any

    def function_name(self, logical_id: str) -> str:
        return self.resources.functions[logical_id][0]

    def run(self, scan_job_id: str, workspace_id: str, *, timeout: float = 120.0) -> dict[str, Any]:
        """Starts the execution as the API does and waits for it to end (a bound, not a speed check)."""
        import boto3
        from botscope.workflow.starter import start_scan_execution

        arn = start_scan_execution(scan_job_id, workspace_id)
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        deadline = time.monotonic() + timeout
        while True:
            execution = sfn.describe_execution(executionArn=arn)
            if execution["status"] != "RUNNING" or time.monotonic() > deadline:
                return execution
            time.sleep(0.1)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        import boto3

        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


@pytest.fixture
def workflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[Workflow]:
    from botscope.local.atomic_dynamodb import atomic_dynamodb
    from botscope.local.resources import create_resources
    from botscope.local.seam import LambdaSeam, load_handler
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "BOTSCOPE_ALLOW_PRIVATE_TARGETS": "127.0.0.0/8",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    seam = LambdaSeam()
    seam.install()
    try:
        # The Map runs probes on parallel threads: moto's DynamoDB must be atomic per request, as
        # the real service is, or concurrent path-run counter updates get lost.
        with atomic_dynamodb(), mock_aws(config=MOTO_CONFIG):
            resources = create_resources(prefix="botscope-wf")
            for key, value in resources.env().items():
                monkeypatch.setenv(key, value)
            reset_settings()
            reset_clients()
            for logical_id in STAGES:
                name, directory = resources.functions[logical_id]
                seam.register(name, load_handler(directory))
            yield Workflow(resources, seam)
    finally:
        seam.uninstall()
        reset_settings()
        reset_clients()
