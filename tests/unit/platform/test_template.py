"""template.yaml and the ASL: linted, and declaring every route of docs/api.md and every function."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from botscope.aws.template import REPO_ROOT, TEMPLATE_PATH, load_template

BIN = Path(sys.executable).parent
ASL_FILES = sorted((REPO_ROOT / "functions" / "scan_workflow").glob("*.asl.json"))

# docs/api.md, route by route (method, path as API Gateway spells it).
API_ROUTES = {
    ("GET", "/api/v1/scans"),
    ("POST", "/api/v1/scans"),
    ("GET", "/api/v1/scans/{id}"),
    ("GET", "/api/v1/scans/{id}/findings"),
    ("GET", "/api/v1/scans/{id}/report"),
    ("GET", "/api/v1/monitoring"),
    ("DELETE", "/api/v1/monitoring/{id}"),
    ("GET", "/api/v1/sample-reports"),
    ("GET", "/api/v1/sample-reports/{tab_id}"),
    ("GET", "/api/v1/webhooks"),
    ("POST", "/api/v1/webhooks"),
    ("DELETE", "/api/v1/webhooks/{id}"),
    ("POST", "/api/v1/webhooks/{id}/test"),
    ("GET", "/api/v1/webhooks/{id}/deliveries"),
    ("GET", "/api/v1/api-keys"),
    ("POST", "/api/v1/api-keys"),
    ("DELETE", "/api/v1/api-keys/{api_key_id}"),
    ("GET", "/api/v1/audit-log"),
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/openapi.json"),
    ("ANY", "/mcp"),
}
FUNCTIONS = {
    "ApiFunction": "functions/api",
    "ScanPrepareFunction": "functions/scan_prepare",
    "ScanProbeFunction": "functions/scan_probe",
    "ScanAnalyzeFunction": "functions/scan_analyze",
    "ScanFinalizeFunction": "functions/scan_finalize",
    "ScanMarkFailedFunction": "functions/scan_mark_failed",
    "WebhookDeliverFunction": "functions/webhook_deliver",
    "MonitorSchedulerFunction": "functions/monitor_scheduler",
    "SampleReportsFunction": "functions/sample_reports",
}


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template(TEMPLATE_PATH)


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / tool), *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300
    )


def test_cfn_lint_passes() -> None:
    result = _run("cfn-lint", str(TEMPLATE_PATH))
    assert result.returncode == 0, result.stdout + result.stderr


def test_statelint_passes() -> None:
    assert ASL_FILES, "no ASL file beside the functions"
    result = _run("statelint", *map(str, ASL_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_api_route_goes_to_the_api_function(template: dict) -> None:
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"]
    declared = {
        (e["Properties"]["Method"].upper(), e["Properties"]["Path"])
        for e in events.values()
        if e["Type"] == "HttpApi"
    }
    assert API_ROUTES <= declared, sorted(API_ROUTES - declared)


def test_every_function_is_declared_with_a_thin_handler(template: dict) -> None:
    resources = template["Resources"]
    for logical_id, code_uri in FUNCTIONS.items():
        props = resources[logical_id]["Properties"]
        assert resources[logical_id]["Type"] == "AWS::Serverless::Function"
        assert props["CodeUri"].rstrip("/") == code_uri
        assert props["Handler"] == "app.lambda_handler"


def test_globals_set_runtime_tracing_and_powertools(template: dict) -> None:
    function = template["Globals"]["Function"]
    assert function["Architectures"] == ["arm64"]
    # Runtime and layer per zip function: Globals reach the container-image function too, which
    # must have neither
    assert "Runtime" not in function and "Layers" not in function
    for logical_id in FUNCTIONS:
        props = template["Resources"][logical_id]["Properties"]
        assert props["Runtime"] == "python3.12"
        assert props["Layers"] == [{"Ref": "CoreLayer"}]
    assert function["Tracing"] == "Active"
    variables = function["Environment"]["Variables"]
    for name in (
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
        "BOTSCOPE_TABLE_NAME",
        "BOTSCOPE_REPORTS_BUCKET",
        "BOTSCOPE_WEBHOOK_QUEUE_URL",
    ):
        assert name in variables
    # The stages are referenced by the state machine: they must not reference it back (a cycle).
    assert "BOTSCOPE_STATE_MACHINE_ARN" not in variables


def test_state_machine_substitutes_every_placeholder_of_the_asl(template: dict) -> None:
    machine = template["Resources"]["ScanWorkflow"]["Properties"]
    definition = (REPO_ROOT / machine["DefinitionUri"]).read_text()
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition))
    assert placeholders and placeholders == set(machine["DefinitionSubstitutions"])
    invokable = {p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in machine["Policies"]}
    substituted = {v["Fn::GetAtt"][0] for v in machine["DefinitionSubstitutions"].values()}
    assert substituted <= invokable


def test_asl_is_jsonpath_with_bounded_map_retry_catch_and_timeout() -> None:
    asl = json.loads(ASL_FILES[0].read_text())
    assert asl.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert 0 < asl["TimeoutSeconds"] <= 900
    states = asl["States"]
    probe_map = states["ProbePathRuns"]
    assert probe_map["Type"] == "Map" and 0 < probe_map["MaxConcurrency"] <= 16
    item = probe_map["ItemProcessor"]["States"]["ProbePathRun"]
    assert "TransientError" in item["Retry"][0]["ErrorEquals"]
    assert item["Catch"][0]["Next"] == "MarkPathRunFailed"
    for name in ("Prepare", "ProbePathRuns", "Analyze", "Finalize"):
        assert states[name]["Catch"][0]["ErrorEquals"] == ["States.ALL"]
        assert states[name]["Catch"][0]["Next"] == "MarkFailed"
    assert states[states["MarkFailed"]["Next"]]["Type"] == "Fail"


def test_webhook_queue_has_dlq_and_partial_batch_responses(template: dict) -> None:
    resources = template["Resources"]
    redrive = resources["WebhookQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["WebhookDLQ", "Arn"]}
    sqs_events = [
        e for e in resources["WebhookDeliverFunction"]["Properties"]["Events"].values() if e["Type"] == "SQS"
    ]
    assert sqs_events and sqs_events[0]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_reports_bucket_is_private_encrypted_and_expires_observations(template: dict) -> None:
    props = template["Resources"]["ReportsBucket"]["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    rules = {r["Prefix"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["observations/"]["ExpirationInDays"] == 7


def test_every_function_directory_has_events(template: dict) -> None:
    for name in ("scan_prepare", "scan_probe", "scan_analyze", "scan_finalize", "scan_mark_failed"):
        event = json.loads((REPO_ROOT / "events" / f"{name}.json").read_text())
        assert event["scan_job_id"].startswith("scan_")


def test_layer_requirements_match_the_pinned_runtime_dependencies() -> None:
    import tomllib

    pinned = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = (REPO_ROOT / "layers" / "core" / "requirements.txt").read_text().splitlines()
    listed = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert sorted(listed) == sorted(pinned), (
        "run `make requirements` (layers/core/requirements.txt is generated from pyproject.toml)"
    )


def test_workflow_timeout_matches_the_scan_deadline(template: dict) -> None:
    # A scan's deadline_at (set at creation) must not come before the execution's own timeout,
    # or a GET would fail a scan that is still allowed to finish.
    from botscope.config import Settings

    asl = json.loads(ASL_FILES[0].read_text())
    api_env = template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert int(api_env["BOTSCOPE_SCAN_TIMEOUT_SECONDS"]) >= asl["TimeoutSeconds"]
    assert Settings.model_fields["scan_timeout_seconds"].default >= asl["TimeoutSeconds"]
