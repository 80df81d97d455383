"""Cancelling a running scan: the real ASL run by moto's interpreter with our stages, a fixture site
whose responses are held (``site.gate``) so probes are in flight at a known moment."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.fixtures.site.server import FixtureSite


@pytest.fixture
def held_site() -> Any:
    with FixtureSite(scenario="clean") as running:
        running.gate = threading.Event()
        try:
            yield running
        finally:
            running.gate.set()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    from botscope.webhooks import fanout

    calls: list[tuple[str, str, dict[str, Any]]] = []

    def record(workspace_id: str, event_type: str, data: dict[str, Any], **kwargs: Any) -> str:
        calls.append((workspace_id, event_type, data))
        return "evt_recorded"

    monkeypatch.setattr(fanout, "publish_event", record)
    return calls


def _principal(workspace_id: str) -> Any:
    from botscope.auth.principal import Principal

    return Principal(
        workspace_id=workspace_id,
        plan="enterprise",
        workspace_status="active",
        actor_type="api_key",
        actor_id="key_test",
    )


def _wait(predicate: Any, bound_seconds: float = 60.0) -> bool:
    """Polls until ``predicate()`` holds (a liveness bound, not a speed assertion)."""
    deadline = time.monotonic() + bound_seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _running_probes_all_in_flight(site: FixtureSite, scan_job_id: str) -> bool:
    from botscope.store import scans

    running = [r for r in scans.list_path_runs(scan_job_id) if r.status == "running"]
    return bool(running) and site.in_flight == len(running)


def test_cancel_stops_the_execution_and_no_probe_starts_after_it(
    workflow: Any, held_site: FixtureSite, published: list
) -> None:
    import boto3
    from botscope.service import scans as service
    from botscope.store import reports, scans, workspaces
    from botscope.workflow.starter import start_scan_execution

    # Given a full scan whose first probes are waiting for the site's answers
    ws = workspaces.create_workspace("cancel", "enterprise")
    url = held_site.url("/")
    scan = scans.create_scan(ws.workspace_id, url, "full", deadline_seconds=900)
    assert scans.claim_active(ws.workspace_id, url, scan.scan_job_id) is None
    # (Prepare's own requests are answered; the probes', sent once the path runs exist, are held.)
    held_site.gate_when = lambda: bool(getattr(scans.get_scan(scan.scan_job_id), "path_runs_total", None))
    arn = start_scan_execution(scan.scan_job_id, ws.workspace_id)
    scans.set_execution_arn(scan.scan_job_id, arn)
    assert _wait(lambda: _running_probes_all_in_flight(held_site, scan.scan_job_id))
    requests_at_cancel = len(held_site.requests)
    invocations_at_cancel = len(workflow.seam.invocations)

    # When it is cancelled, and only then the site answers the probes in flight
    outcome = service.cancel_scan(_principal(ws.workspace_id), scan.scan_job_id)
    assert held_site.gate is not None
    held_site.gate.set()

    # Then the answer is 202 with the scan cancelled
    assert outcome.status_code == 202 and outcome.cancelled_now
    assert outcome.body["status"] == "cancelled"
    assert outcome.body["error"]["code"] == "cancelled"
    # and the execution is stopped: no later stage runs. (AWS reports ABORTED; moto 5.2's abort of
    # a Map with iterations in flight ends the execution FAILED, from an error inside moto.)
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    assert _wait(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING")
    assert sfn.describe_execution(executionArn=arn)["status"] in ("ABORTED", "FAILED")
    later_stages = {name.rsplit("-", 1)[-1] for name in workflow.seam.invocations[invocations_at_cancel:]}
    assert later_stages <= {"ScanProbeFunction", "ScanMarkFailedFunction"}, later_stages
    # and once the probes in flight have settled, no further request reached the site
    assert _wait(
        lambda: all(r.status in scans.RUN_TERMINAL_STATUSES for r in scans.list_path_runs(scan.scan_job_id))
    )
    assert _wait(lambda: held_site.in_flight == 0)
    assert len(held_site.requests) == requests_at_cancel
    runs = scans.list_path_runs(scan.scan_job_id)
    assert any(r.status == "cancelled" for r in runs)
    # and the scan stays cancelled with its partial report marked incomplete
    # (the probes in flight at the cancel write it as they settle: nothing had answered before)
    assert _wait(lambda: getattr(scans.get_scan(scan.scan_job_id), "report_key", None))
    final = scans.get_scan(scan.scan_job_id)
    assert final.status == "cancelled" and final.report_complete is False
    report = reports.get_report(final.report_key)
    assert report["complete"] is False and report["incomplete_reason"] == "cancelled"
    # and the running-scan marker (what the concurrent-scan limit counts) is released
    assert scans.get_active(ws.workspace_id, url) is None
    # and scan.cancelled was published exactly once
    assert [event for _, event, _ in published] == ["scan.cancelled"]

    # A second cancel changes nothing and answers 200
    again = service.cancel_scan(_principal(ws.workspace_id), scan.scan_job_id)
    assert again.status_code == 200 and not again.cancelled_now
    assert [event for _, event, _ in published] == ["scan.cancelled"]


def test_a_probe_that_starts_after_the_cancel_sends_nothing(workflow: Any, held_site: FixtureSite) -> None:
    from botscope.store import reports, scans, workspaces
    from botscope.workflow import stages

    assert held_site.gate is not None
    held_site.gate.set()
    ws = workspaces.create_workspace("cancel", "enterprise")
    scan = scans.create_scan(ws.workspace_id, held_site.url("/"), "quick", deadline_seconds=900)
    prepared = stages.prepare(scan.scan_job_id, ws.workspace_id)
    run_id = prepared["path_runs"][0]["path_run_id"]
    assert scans.mark_cancelled(scan.scan_job_id) is not None

    result = stages.probe_path_run(scan.scan_job_id, ws.workspace_id, run_id)

    assert result["status"] == "cancelled"
    assert held_site.requests == []
    run = scans.get_path_run(scan.scan_job_id, run_id)
    assert run.status == "cancelled" and run.observation_key is None
    assert reports.get_plan(scan.scan_job_id)  # the plan is kept: the partial report needs it
