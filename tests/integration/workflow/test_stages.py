"""Stage logic against moto (the shared ``aws`` fixture), one stage at a time: retries and late
Catches must be harmless, errors must map to public codes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.fixtures.site.server import FixtureSite


@pytest.fixture
def private_ok(monkeypatch: pytest.MonkeyPatch, aws: Any) -> None:
    from botscope.config import reset_settings

    monkeypatch.setenv("BOTSCOPE_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8")
    reset_settings()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    from botscope.webhooks import fanout

    calls: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(
        fanout, "publish_event", lambda ws, kind, data, **kw: calls.append((ws, kind, data)) or "evt_x"
    )
    return calls


def _scan(url: str) -> Any:
    from botscope.store import scans, workspaces

    ws = workspaces.create_workspace("stages", "enterprise")
    return scans.create_scan(ws.workspace_id, url, "quick", deadline_seconds=900)


def test_prepare_probe_analyze_finalize_in_sequence(private_ok: None, published: list) -> None:
    from botscope.store import reports, scans
    from botscope.workflow import stages

    with FixtureSite(scenario="clean") as site:
        scan = _scan(site.url("/"))
        sid, ws = scan.scan_job_id, scan.workspace_id
        prepared = stages.prepare(sid, ws)
        assert prepared["scan_job_id"] == sid and prepared["path_runs"]
        assert scans.get_scan(sid).status == "running"
        # A retried Prepare returns the same runs instead of planning again
        assert stages.prepare(sid, ws)["path_runs"] == prepared["path_runs"]
        plan = reports.get_plan(sid)
        assert {r["path_run_id"] for r in plan["path_runs"]} == {
            r["path_run_id"] for r in prepared["path_runs"]
        }
        for run in prepared["path_runs"]:
            result = stages.probe_path_run(sid, ws, run["path_run_id"])
            assert result["status"] in ("completed", "failed")
        # A retried probe after success changes nothing and counts nothing twice
        first = prepared["path_runs"][0]["path_run_id"]
        before = scans.get_scan(sid)
        stages.probe_path_run(sid, ws, first)
        stages.mark_path_run_failed(sid, first, {"Error": "States.Timeout"})
        after = scans.get_scan(sid)
        assert (after.path_runs_completed, after.path_runs_failed) == (
            before.path_runs_completed,
            before.path_runs_failed,
        )
        assert after.path_runs_completed + after.path_runs_failed == len(prepared["path_runs"])
        analyzed = stages.analyze(sid, ws)
        assert analyzed["report_key"] == reports.report_key(sid)
        assert stages.finalize(sid, ws)["status"] == "completed"
        # Finalize twice: one completion, one event
        stages.finalize(sid, ws)
    assert scans.get_scan(sid).status == "completed"
    assert [kind for _, kind, _ in published] == ["scan.completed"]


def test_prepare_rejects_a_private_target_without_the_opt_in(aws: Any, published: list) -> None:
    from botscope.errors import TargetNotPublic
    from botscope.workflow import stages

    scan = _scan("http://127.0.0.1:9/")
    with pytest.raises(TargetNotPublic) as raised:
        stages.prepare(scan.scan_job_id, scan.workspace_id)
    # What the state machine's Catch hands to MarkFailed, mapped to the public code
    cause = json.dumps({"errorType": type(raised.value).__name__, "errorMessage": raised.value.message})
    assert stages.error_from_states({"Error": "TargetNotPublic", "Cause": cause})[0] == "target_not_public"


def test_mark_failed_never_overwrites_a_completed_scan(aws: Any, published: list) -> None:
    from botscope.store import scans
    from botscope.workflow import stages

    scan = _scan("https://example.com/")
    scans.mark_running(scan.scan_job_id)
    assert scans.mark_completed(
        scan.scan_job_id, report_key="reports/x.json", ruleset_version="1", summary=None
    )
    result = stages.mark_scan_failed(scan.scan_job_id, scan.workspace_id, {"Error": "States.ALL"})
    assert result["status"] == "completed"
    assert scans.get_scan(scan.scan_job_id).status == "completed"
    assert published == []


def test_mark_failed_records_code_and_publishes_once(aws: Any, published: list) -> None:
    from botscope.store import scans
    from botscope.workflow import stages

    scan = _scan("https://example.com/")
    error = {
        "Error": "RuntimeError",
        "Cause": json.dumps({"errorType": "RuntimeError", "errorMessage": "db password x"}),
    }
    assert stages.mark_scan_failed(scan.scan_job_id, scan.workspace_id, error)["status"] == "failed"
    stages.mark_scan_failed(scan.scan_job_id, scan.workspace_id, error)
    stored = scans.get_scan(scan.scan_job_id)
    assert stored.error.code == "internal_error" and "password" not in stored.error.message
    assert [kind for _, kind, _ in published] == ["scan.failed"]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ({"Error": "States.Timeout", "Cause": ""}, "stage_timeout"),
        (
            {"Error": "TransientError", "Cause": json.dumps({"errorType": "TransientError"})},
            "temporarily_unavailable",
        ),
        ({"Error": "Lambda.ServiceException", "Cause": "not json"}, "temporarily_unavailable"),
        (
            {
                "Error": "InvalidTarget",
                "Cause": json.dumps({"errorType": "InvalidTarget", "errorMessage": "bad port"}),
            },
            "invalid_target",
        ),
        ({"Error": "ScanNotActive", "Cause": json.dumps({"errorType": "ScanNotActive"})}, "scan_not_active"),
        (
            {"Error": "KeyError", "Cause": json.dumps({"errorType": "KeyError", "errorMessage": "'x'"})},
            "internal_error",
        ),
        (None, "internal_error"),
    ],
)
def test_error_codes_from_step_functions(error: dict | None, code: str) -> None:
    from botscope.workflow.stages import error_from_states

    assert error_from_states(error)[0] == code


def test_expire_if_overdue_fails_a_scan_past_its_deadline(aws: Any, published: list) -> None:
    from botscope.store import scans
    from botscope.store.table import iso, scan_pk, table, utcnow
    from botscope.workflow import stages

    scan = _scan("https://example.com/")
    assert stages.expire_if_overdue(scan).status == "queued"  # not yet due
    past = iso(utcnow() - timedelta(minutes=1))
    table().update_item(
        Key={"pk": scan_pk(scan.scan_job_id), "sk": "META"},
        UpdateExpression="SET deadline_at = :d",
        ExpressionAttributeValues={":d": past},
    )
    expired = stages.expire_if_overdue(scans.get_scan(scan.scan_job_id))
    assert expired.status == "failed" and expired.error.code == "scan_timeout"
    assert [kind for _, kind, _ in published] == ["scan.failed"]


def test_transient_aws_errors_become_retryable(aws: Any) -> None:
    from botocore.exceptions import ClientError
    from botscope.local.seam import LambdaContext
    from botscope.workflow.handler import TransientError, stage_handler

    def throttled(event: dict, context: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "PutItem"
        )

    def denied(event: dict, context: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutItem")

    context = LambdaContext(function_name="stage")
    with pytest.raises(TransientError):
        stage_handler(throttled)({"scan_job_id": "scan_x"}, context)
    with pytest.raises(ClientError):
        stage_handler(denied)({"scan_job_id": "scan_x"}, context)


def test_a_failing_monitoring_hook_does_not_lose_the_scan_event(
    aws: Any, published: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botscope.monitoring import hooks
    from botscope.store import reports, scans
    from botscope.workflow import stages

    def broken(*args: Any) -> None:
        raise RuntimeError("monitoring is down")

    monkeypatch.setattr(hooks, "after_scan_completed", broken)
    scan = _scan("https://example.com/")
    scans.mark_running(scan.scan_job_id)
    reports.put_report(
        scan.scan_job_id,
        {
            "scan_job_id": scan.scan_job_id,
            "ruleset_version": "1",
            "summary": {"posture": "none", "score": 0},
            "findings": [],
        },
    )
    assert stages.finalize(scan.scan_job_id, scan.workspace_id)["status"] == "completed"
    assert scans.get_scan(scan.scan_job_id).status == "completed"
    assert [kind for _, kind, _ in published] == ["scan.completed"]
    assert published[0][2]["summary"]["posture"] == "none"


def test_a_retried_finalize_publishes_an_event_the_first_attempt_could_not(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botscope.store import reports, scans
    from botscope.webhooks import fanout
    from botscope.workflow import stages

    sent: list[str] = []

    def flaky_publish(workspace_id: str, event_type: str, data: dict, **kwargs: Any) -> str:
        if not sent:
            sent.append("failed")
            raise ConnectionError("queue unreachable")
        sent.append(event_type)
        return "evt_1"

    monkeypatch.setattr(fanout, "publish_event", flaky_publish)
    scan = _scan("https://example.com/")
    scans.mark_running(scan.scan_job_id)
    reports.put_report(scan.scan_job_id, {"scan_job_id": scan.scan_job_id, "findings": []})
    with pytest.raises(ConnectionError):
        stages.finalize(scan.scan_job_id, scan.workspace_id)
    assert scans.get_scan(scan.scan_job_id).status == "completed"
    # The state machine retries Finalize: the event goes out now, and only now
    stages.finalize(scan.scan_job_id, scan.workspace_id)
    stages.finalize(scan.scan_job_id, scan.workspace_id)
    assert sent == ["failed", "scan.completed"]
    assert scans.get_scan(scan.scan_job_id).published_events == {"scan.completed": "evt_1"}


def test_the_scheduled_sweep_fails_only_overdue_scans_and_forgets_finished_ones(
    aws: Any, published: list
) -> None:
    """No scan stays queued/running forever, even if nobody reads it: the scheduler's sweep finds
    overdue scans through the sharded open-scans index."""
    from botscope.store import scans
    from botscope.store.table import iso, table, utcnow
    from botscope.workflow import stages

    past = iso(utcnow() - timedelta(minutes=1))
    overdue = [_scan(f"https://example.com/{i}") for i in range(3)]
    on_time = _scan("https://example.com/on-time")
    finished = _scan("https://example.com/finished")
    assert scans.mark_completed(finished.scan_job_id, report_key="r", ruleset_version="v", summary=None)
    # Given three scans whose deadline passed (as if their executions timed out) and one finished
    # scan that was overdue too: only the open ones are expired.
    for scan in [*overdue, finished]:
        item = table().get_item(Key={"pk": f"SCAN#{scan.scan_job_id}", "sk": "META"})["Item"]
        if "gsi2pk" in item:
            table().update_item(
                Key={"pk": item["pk"], "sk": "META"},
                UpdateExpression="SET deadline_at = :d, gsi2sk = :s",
                ExpressionAttributeValues={":d": past, ":s": f"{past}#{scan.scan_job_id}"},
            )
    assert stages.sweep_overdue_scans() == 3
    for scan in overdue:
        after = scans.get_scan(scan.scan_job_id)
        assert after.status == "failed" and after.error.code == "scan_timeout"
    assert scans.get_scan(on_time.scan_job_id).status == "queued"
    assert scans.get_scan(finished.scan_job_id).status == "completed"
    assert sorted(kind for _, kind, _ in published) == ["scan.failed"] * 3
    assert stages.sweep_overdue_scans() == 0  # failed scans left the index
