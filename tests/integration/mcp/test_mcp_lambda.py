"""/mcp and /api/v1/api-keys inside the Lambda handler (Mangum, lifespan off) with the sample
API Gateway HTTP API events in events/: nothing may depend on an ASGI lifespan."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botscope.store import credentials

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def lambda_handler(aws: Any) -> Any:
    spec = importlib.util.spec_from_file_location("botscope_api_function", ROOT / "functions/api/app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    context = SimpleNamespace(
        function_name="ApiFunction",
        memory_limit_in_mb=1024,
        aws_request_id="req-lambda-1",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:ApiFunction",
    )

    def invoke(event_name: str, replacements: dict[str, str]) -> dict[str, Any]:
        text = (ROOT / "events" / event_name).read_text()
        for placeholder, value in replacements.items():
            text = text.replace(placeholder, value)
        return module.lambda_handler(json.loads(text), context)

    return invoke


def test_mcp_events_through_the_lambda_handler(lambda_handler, workspace_factory):
    _, key = workspace_factory("starter")
    token = {"dxk_REPLACE_WITH_A_KEY": key}
    initialized = lambda_handler("api_mcp_initialize.json", token)
    assert initialized["statusCode"] == 200, initialized
    assert json.loads(initialized["body"])["result"]["serverInfo"]["name"] == "botscope"
    listed = lambda_handler("api_mcp_tools_list.json", token)
    assert listed["statusCode"] == 200
    assert len(json.loads(listed["body"])["result"]["tools"]) == 8
    # A starter workspace gets the same plan error as over HTTP, as a tool error.
    refused = json.loads(lambda_handler("api_mcp_create_scan.json", token)["body"])["result"]
    assert refused["isError"] is True and refused["structuredContent"]["error"]["code"] == "plan_required"
    unauthenticated = lambda_handler("api_mcp_tools_list.json", {})
    assert unauthenticated["statusCode"] == 401
    assert unauthenticated["headers"]["www-authenticate"].startswith("Bearer")


def test_api_key_events_through_the_lambda_handler(lambda_handler, workspace_factory):
    ws, key = workspace_factory("growth")
    token = {"dxk_REPLACE_WITH_A_KEY": key}
    created = lambda_handler("api_api_keys_create.json", token)
    assert created["statusCode"] == 201
    new_id = json.loads(created["body"])["api_key_id"]
    listed = json.loads(lambda_handler("api_api_keys_list.json", token)["body"])["data"]
    assert {k["label"] for k in listed} == {"test key", "ci pipeline"}
    revoked = lambda_handler("api_api_keys_revoke.json", {**token, "key_REPLACE_WITH_AN_ID": new_id})
    assert revoked["statusCode"] == 204
    assert new_id not in {k.api_key_id for k in credentials.list_api_keys(ws["workspace_id"])}
