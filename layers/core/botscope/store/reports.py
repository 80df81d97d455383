"""The scan workflow's objects in the private reports bucket (S3).

Keys (one scan's objects share the scan id, so a prefix lists or expires them together):

- ``plans/{scan}.json``                the ScanPlan (Prepare writes it, Probe and Analyze read it)
- ``observations/{scan}/{run}.json``   one path run's Observation: private (it may hold a policy
                                       file's text), expired by a bucket lifecycle rule after 7 days
- ``reports/{scan}.json``              the assembled public report (docs/report.md)

Stage functions exchange these keys, never the payloads (Step Functions caps state at 256 KB;
a report can outgrow a 400 KB DynamoDB item).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from botscope.config import get_settings
from botscope.store.table import s3_client


def plan_key(scan_job_id: str) -> str:
    return f"plans/{scan_job_id}.json"


def observation_key(scan_job_id: str, path_run_id: str) -> str:
    return f"observations/{scan_job_id}/{path_run_id}.json"


def report_key(scan_job_id: str) -> str:
    return f"reports/{scan_job_id}.json"


def _put_json(key: str, document: Any) -> str:
    s3_client().put_object(
        Bucket=get_settings().reports_bucket,
        Key=key,
        Body=json.dumps(document, separators=(",", ":"), sort_keys=True).encode(),
        ContentType="application/json",
        # The bucket also encrypts by default; asking explicitly keeps a misconfigured bucket safe.
        ServerSideEncryption="AES256",
    )
    return key


def _get_json(key: str) -> Any:
    body = s3_client().get_object(Bucket=get_settings().reports_bucket, Key=key)["Body"].read()
    return json.loads(body)


def put_plan(scan_job_id: str, plan: dict[str, Any]) -> str:
    return _put_json(plan_key(scan_job_id), plan)


def get_plan(scan_job_id: str) -> dict[str, Any]:
    return dict(_get_json(plan_key(scan_job_id)))


def find_plan(scan_job_id: str) -> dict[str, Any] | None:
    """The scan's plan, or None when Prepare has not stored one (a scan cancelled before it)."""
    try:
        return get_plan(scan_job_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None
        raise


def put_observation(scan_job_id: str, path_run_id: str, observation: dict[str, Any]) -> str:
    return _put_json(observation_key(scan_job_id, path_run_id), observation)


def get_observation(key: str) -> dict[str, Any]:
    return dict(_get_json(key))


def put_report(scan_job_id: str, report: dict[str, Any]) -> str:
    return _put_json(report_key(scan_job_id), report)


def get_report(key: str) -> dict[str, Any]:
    """The report stored under ``key`` (the scan item's ``report_key``)."""
    return dict(_get_json(key))
