"""Creates BotScope's AWS resources in moto from template.yaml and the ASL file themselves, so the
local stack and the deployed stack cannot drift apart.

Only what the code talks to is created: the table (keys, GSIs, TTL), the reports bucket, the
webhook queue and its DLQ (visibility timeout, redrive policy), the webhook-secrets KMS key, one
Lambda function per ``AWS::Serverless::Function`` (moto only registers them; the seam runs the
code) and the state machine, with ``${...}`` substituted as DefinitionSubstitutions would.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from botscope.aws.template import (
    REPO_ROOT,
    TEMPLATE_PATH,
    load_template,
    table_create_kwargs,
    table_ttl_attribute,
)


@dataclass
class LocalResources:
    region: str
    table_name: str
    bucket: str
    webhook_queue_url: str
    webhook_dlq_url: str
    kms_key_id: str
    state_machine_arn: str
    # logical id -> (function name, CodeUri directory)
    functions: dict[str, tuple[str, Path]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """BotScope settings pointing at these resources (as template.yaml's Environment does)."""
        return {
            "BOTSCOPE_TABLE_NAME": self.table_name,
            "BOTSCOPE_REPORTS_BUCKET": self.bucket,
            "BOTSCOPE_WEBHOOK_QUEUE_URL": self.webhook_queue_url,
            "BOTSCOPE_WEBHOOK_DLQ_URL": self.webhook_dlq_url,
            "BOTSCOPE_STATE_MACHINE_ARN": self.state_machine_arn,
            "BOTSCOPE_WEBHOOK_KMS_KEY_ID": self.kms_key_id,
        }


def _resources(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == type_name}


def serverless_functions(template: dict[str, Any] | None = None) -> dict[str, Path]:
    """Logical id -> function directory, for every function in the template."""
    template = template or load_template()
    return {
        logical_id: _code_dir(res)
        for logical_id, res in _resources(template, "AWS::Serverless::Function").items()
    }


def _code_dir(resource: dict[str, Any]) -> Path:
    """A zip function's CodeUri, or the directory of a container-image function's Dockerfile (its
    app.py sits beside it; the local stack runs it in-process like the others)."""
    code_uri = resource["Properties"].get("CodeUri")
    if code_uri is None:
        return REPO_ROOT / Path(str(resource["Metadata"]["Dockerfile"])).parent
    return REPO_ROOT / str(code_uri).rstrip("/")


def _queue_attributes(props: dict[str, Any], dlq_arn: str | None) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for name in (
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
    ):
        if name in props:
            attributes[name] = str(props[name])
    redrive = props.get("RedrivePolicy")
    if redrive and dlq_arn:
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(redrive.get("maxReceiveCount", 5))}
        )
    return attributes


def substitute_definition(definition: str, substitutions: dict[str, str]) -> str:
    """``${Name}`` -> value, as SAM's DefinitionSubstitutions; an unknown name is an error."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise KeyError(f"DefinitionSubstitutions has no value for ${{{name}}}")
        return substitutions[name]

    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", replace, definition)


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "# the local stack runs functions/<name>/app.py in-process\n")
    return buffer.getvalue()


def _create_table(prefix: str, region: str) -> str:
    ddb = boto3.client("dynamodb", region_name=region)
    table_name = f"{prefix}-table"
    ddb.create_table(**table_create_kwargs(table_name))
    ttl = table_ttl_attribute()
    if ttl:
        ddb.update_time_to_live(
            TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
        )
    return table_name


def _create_reports_bucket(prefix: str, region: str) -> str:
    """The reports bucket, private like the deployed one."""
    s3 = boto3.client("s3", region_name=region)
    bucket = f"{prefix}-reports"
    s3.create_bucket(Bucket=bucket)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    return bucket


def _create_webhook_queues(template: dict[str, Any], prefix: str, region: str) -> tuple[str, str]:
    """The webhook queue and its dead-letter queue, with the template's attributes: (queue, DLQ) URLs."""
    sqs = boto3.client("sqs", region_name=region)
    resources = template["Resources"]
    dlq_url = sqs.create_queue(
        QueueName=f"{prefix}-webhooks-dlq",
        Attributes=_queue_attributes(resources["WebhookDLQ"]["Properties"], None),
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-webhooks",
        Attributes=_queue_attributes(resources["WebhookQueue"]["Properties"], dlq_arn),
    )["QueueUrl"]
    return queue_url, dlq_url


def _create_secrets_key(template: dict[str, Any], prefix: str, region: str) -> str:
    """The KMS key of webhook signing secrets; returns its ARN."""
    kms = boto3.client("kms", region_name=region)
    key_props = template["Resources"]["WebhookSecretsKey"]["Properties"]
    key_id: str = kms.create_key(Description=key_props.get("Description", "webhook secrets"))["KeyMetadata"][
        "Arn"
    ]
    kms.create_alias(AliasName=f"alias/{prefix}-webhook-secrets", TargetKeyId=key_id)
    return key_id


def _create_role(prefix: str, region: str) -> str:
    """One role the functions and the state machine assume (moto checks only that it exists)."""
    iam = boto3.client("iam", region_name=region)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
            }
        ],
    }
    role_arn: str = iam.create_role(RoleName=f"{prefix}-role", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    return role_arn


def _create_functions(
    template: dict[str, Any], prefix: str, region: str, role_arn: str
) -> tuple[dict[str, tuple[str, Path]], dict[str, str]]:
    """A placeholder Lambda function per template function (the local stack runs the code
    in-process): (logical id → (name, code directory), logical id → ARN)."""
    lam = boto3.client("lambda", region_name=region)
    functions: dict[str, tuple[str, Path]] = {}
    arns: dict[str, str] = {}
    for logical_id, directory in serverless_functions(template).items():
        name = f"{prefix}-{logical_id}"
        props = template["Resources"][logical_id]["Properties"]
        arns[logical_id] = lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler=props.get("Handler", "app.lambda_handler"),
            Code={"ZipFile": _dummy_zip()},
            Timeout=int(props.get("Timeout", 30)),
        )["FunctionArn"]
        functions[logical_id] = (name, directory)
    return functions, arns


def _create_state_machine(
    template: dict[str, Any],
    prefix: str,
    region: str,
    role_arn: str,
    arns: dict[str, str],
    overrides: dict[str, str] | None,
) -> str:
    """The scan workflow, its definition substituted as CloudFormation would (plus ``overrides``)."""
    machine = _resources(template, "AWS::Serverless::StateMachine")["ScanWorkflow"]["Properties"]
    substitutions: dict[str, str] = {}
    for name, value in machine.get("DefinitionSubstitutions", {}).items():
        substitutions[name] = _resolve(value, arns)
    substitutions.update(overrides or {})
    definition = substitute_definition((REPO_ROOT / machine["DefinitionUri"]).read_text(), substitutions)
    sfn = boto3.client("stepfunctions", region_name=region)
    state_machine_arn: str = sfn.create_state_machine(
        name=f"{prefix}-ScanWorkflow",
        definition=definition,
        roleArn=role_arn,
        type=machine.get("Type", "STANDARD"),
    )["stateMachineArn"]
    return state_machine_arn


def create_resources(
    prefix: str = "botscope-local", region: str = "us-east-1", overrides: dict[str, str] | None = None
) -> LocalResources:
    """Creates everything in whatever endpoint boto3 currently targets (moto). ``overrides`` can
    replace DefinitionSubstitutions values (tests point a stage at a failing function)."""
    template = load_template(TEMPLATE_PATH)
    table_name = _create_table(prefix, region)
    bucket = _create_reports_bucket(prefix, region)
    queue_url, dlq_url = _create_webhook_queues(template, prefix, region)
    key_id = _create_secrets_key(template, prefix, region)
    role_arn = _create_role(prefix, region)
    functions, arns = _create_functions(template, prefix, region, role_arn)
    state_machine_arn = _create_state_machine(template, prefix, region, role_arn, arns, overrides)
    return LocalResources(
        region, table_name, bucket, queue_url, dlq_url, key_id, state_machine_arn, functions
    )


def _resolve(value: Any, arns: dict[str, str]) -> str:
    """The intrinsic functions DefinitionSubstitutions uses here: !GetAtt Fn.Arn and !Ref Fn."""
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if attribute == "Arn" and logical_id in arns:
            return arns[logical_id]
    if "Ref" in value and value["Ref"] in arns:
        return arns[value["Ref"]]
    raise ValueError(f"cannot resolve {value!r} locally")
