"""Helpers shared by the scan API tests (fixtures are in conftest.py)."""

from __future__ import annotations

from typing import Any

import boto3

PUBLIC_IP = "93.184.215.14"  # a public unicast address; never contacted (the API only resolves)
PRIVATE_IP = "10.0.0.7"


def fake_resolver(host: str) -> list[str]:
    """``*.example.com`` resolves to a public address, ``*.internal.test`` to a private one,
    anything else does not resolve. No packet leaves the process."""
    if host.endswith(".internal.test"):
        return [PRIVATE_IP]
    if host == "example.com" or host.endswith(".example.com"):
        return [PUBLIC_IP]
    raise OSError(f"{host}: name does not resolve")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def executions(state_machine_arn: str) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    return [e["name"] for e in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]]


SAMPLE_FINDING = {
    "finding_id": "fnd_1",
    "fingerprint": "cloudflare:bot_management:edge",
    "category": "bot_defense",
    "measure": "bot_management",
    "status": "present",
    "severity": "medium",
    "confidence": 0.9,
    "title": "Cloudflare bot management",
    "summary": "Requests pass through Cloudflare's bot management.",
    "vendor": "cloudflare",
    "layer": "edge",
    "paths": ["/"],
    "profiles": ["ai_crawler"],
    "evidence": [{"signal": "cookie", "name": "__cf_bm"}],
    "recommendation": "None needed.",
}


def complete_scan(scan_job_id: str, findings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Plays the workflow's part: path runs, a report in S3, status completed."""
    from botscope.store import reports, scans

    scans.mark_running(scan_job_id)
    runs = scans.put_path_runs(
        scan_job_id,
        [
            {"path": "/", "profile": "browser"},
            {"path": "/robots.txt", "profile": "browser", "kind": "policy"},
        ],
    )
    scans.update_path_run(
        scan_job_id,
        runs[0].path_run_id,
        status="completed",
        outcome="served",
        http_status=200,
        duration_ms=40,
    )
    scans.update_path_run(
        scan_job_id,
        runs[1].path_run_id,
        status="failed",
        outcome="error",
        error={"code": "timeout", "message": "The path did not answer in time."},
    )
    report = {
        "scan_job_id": scan_job_id,
        "ruleset_version": "2026.11.1",
        "findings": findings if findings is not None else [SAMPLE_FINDING],
        "summary": {"score": 0.75},
    }
    key = reports.put_report(scan_job_id, report)
    assert scans.mark_completed(
        scan_job_id, report_key=key, ruleset_version="2026.11.1", summary=report["summary"]
    )
    return report


def held_leases(workspace_id: str) -> int:
    """Live running-scan leases (``RUNSLOT#``) of the workspace, read straight from the table."""
    from botscope.store.table import table, utcnow

    response = table().query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :slot)",
        FilterExpression="expires_at > :now",
        ExpressionAttributeValues={
            ":pk": f"WS#{workspace_id}",
            ":slot": "RUNSLOT#",
            ":now": int(utcnow().timestamp()),
        },
        ConsistentRead=True,
    )
    return len(response.get("Items", []))
