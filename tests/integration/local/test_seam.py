"""The seam between moto's Step Functions interpreter and our handlers depends on moto internals.
These tests fail loudly when a moto upgrade moves them."""

from __future__ import annotations

import importlib
import inspect
import io
import json
import time
import zipfile
from typing import Any

import pytest
from botscope.local.seam import EXPECTED_PARAMETERS, PATCH_TARGET, LambdaSeam

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def test_patched_attribute_exists_with_the_expected_signature() -> None:
    module_name, class_name, method = PATCH_TARGET
    backend_class = getattr(importlib.import_module(module_name), class_name)
    parameters = tuple(inspect.signature(getattr(backend_class, method)).parameters)
    assert parameters == EXPECTED_PARAMETERS, (
        f"moto changed {module_name}.{class_name}.{method}{parameters}: update botscope.local.seam"
    )


def test_moto_interpreter_still_invokes_lambda_through_boto3() -> None:
    # The Task state reaches the Lambda backend via lambda_client.invoke; if moto starts calling its
    # backend directly, the seam (and the local stack) would silently echo payloads.
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    source = inspect.getsource(lambda_eval_utils._invoke_lambda_function)
    assert "lambda_client.invoke(" in source


def test_install_and_uninstall_restore_moto() -> None:
    module_name, class_name, method = PATCH_TARGET
    backend_class = getattr(importlib.import_module(module_name), class_name)
    original = getattr(backend_class, method)
    seam = LambdaSeam()
    seam.install()
    assert getattr(backend_class, method) is not original
    seam.uninstall()
    assert getattr(backend_class, method) is original


def _wait(sfn: Any, arn: str) -> dict[str, Any]:
    for _ in range(600):
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.05)
    raise AssertionError("execution did not finish")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def test_a_task_state_runs_our_function_and_its_errors_reach_catch(aws_env: None) -> None:
    import boto3
    from moto import mock_aws

    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        if event.get("explode"):
            raise KeyError("boom")
        return {"doubled": event["n"] * 2, "function": context.function_name}

    seam = LambdaSeam()
    seam.install()
    try:
        with mock_aws(config=MOTO_CONFIG):
            role = boto3.client("iam").create_role(RoleName="seam", AssumeRolePolicyDocument="{}")["Role"][
                "Arn"
            ]
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr("app.py", "")
            arn = boto3.client("lambda").create_function(
                FunctionName="seam-fn",
                Runtime="python3.12",
                Role=role,
                Handler="app.lambda_handler",
                Code={"ZipFile": buffer.getvalue()},
            )["FunctionArn"]
            seam.register("seam-fn", handler)
            definition = {
                "StartAt": "Call",
                "States": {
                    "Call": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                        "ResultSelector": {"result.$": "$.Payload"},
                        "Catch": [{"ErrorEquals": ["KeyError"], "ResultPath": "$.error", "Next": "Caught"}],
                        "End": True,
                    },
                    "Caught": {"Type": "Pass", "End": True},
                },
            }
            sfn = boto3.client("stepfunctions")
            machine = sfn.create_state_machine(name="seam", definition=json.dumps(definition), roleArn=role)
            ok = _wait(
                sfn,
                sfn.start_execution(
                    stateMachineArn=machine["stateMachineArn"], name="ok", input=json.dumps({"n": 21})
                )["executionArn"],
            )
            bad = _wait(
                sfn,
                sfn.start_execution(
                    stateMachineArn=machine["stateMachineArn"],
                    name="bad",
                    input=json.dumps({"n": 1, "explode": True}),
                )["executionArn"],
            )
    finally:
        seam.uninstall()
    # Our handler ran (not moto's echo) with the payload as event and a Lambda-like context
    assert ok["status"] == "SUCCEEDED"
    assert json.loads(ok["output"]) == {"result": {"doubled": 42, "function": "seam-fn"}}
    assert seen[0] == {"n": 21}
    # and an exception became a function error whose type is the ASL error name
    assert bad["status"] == "SUCCEEDED"
    error = json.loads(bad["output"])["error"]
    assert error["Error"] == "KeyError"
    assert json.loads(error["Cause"])["errorType"] == "KeyError"
    assert seam.invocations == ["seam-fn", "seam-fn"]
