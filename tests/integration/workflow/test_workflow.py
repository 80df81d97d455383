"""The real ASL run by moto's interpreter, Task states running our handlers through the seam,
against a fixture site on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.site.server import FixtureSite


@pytest.fixture
def site() -> Any:
    with FixtureSite(scenario="clean") as running:
        yield running


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    """Records webhook events (the delivery path is the webhooks feature's, tested there)."""
    from botscope.webhooks import fanout

    calls: list[tuple[str, str, dict[str, Any]]] = []

    def record(workspace_id: str, event_type: str, data: dict[str, Any], **kwargs: Any) -> str:
        calls.append((workspace_id, event_type, data))
        return "evt_recorded"

    monkeypatch.setattr(fanout, "publish_event", record)
    return calls


def _new_scan(url: str, mode: str = "quick") -> tuple[str, str]:
    from botscope.store import scans, workspaces

    ws = workspaces.create_workspace("wf", "enterprise")
    scan = scans.create_scan(ws.workspace_id, url, mode, deadline_seconds=900)
    assert scans.claim_active(ws.workspace_id, url, scan.scan_job_id) is None
    return scan.scan_job_id, ws.workspace_id


def test_scan_runs_prepare_map_analyze_finalize_to_completed(
    workflow: Any, site: FixtureSite, published: list
) -> None:
    from botscope.store import reports, scans

    # Given a queued scan of the fixture site
    scan_id, ws_id = _new_scan(site.url("/"))
    # When the workflow runs it
    execution = workflow.run(scan_id, ws_id)
    # Then it succeeds and the scan is completed with every path run recorded
    assert execution["status"] == "SUCCEEDED", execution
    scan = scans.get_scan(scan_id)
    assert scan.status == "completed"
    assert scan.error is None
    runs = scans.list_path_runs(scan_id)
    assert runs and scan.path_runs_total == len(runs)
    assert scan.path_runs_completed + scan.path_runs_failed == len(runs)
    assert all(r.status in ("completed", "failed") for r in runs)
    assert any(r.http_status == 200 for r in runs)
    assert all(
        r.observation_key == f"observations/{scan_id}/{r.path_run_id}.json"
        for r in runs
        if r.status == "completed"
    )
    # and the report is in S3 under the scan's report_key
    assert scan.report_key == f"reports/{scan_id}.json"
    report = reports.get_report(scan.report_key)
    assert report["scan_job_id"] == scan_id
    assert isinstance(report["findings"], list)
    # and the active marker is released, scan.completed published once with ids and summary only
    assert scans.get_active(ws_id, scan.target_url) is None
    assert [(w, t) for w, t, _ in published] == [(ws_id, "scan.completed")]
    data = published[0][2]
    assert data["scan_job_id"] == scan_id and "findings" not in data and "summary" in data
    # and every Task state ran our code through the seam
    invoked = set(workflow.seam.invocations)
    for stage in ("ScanPrepareFunction", "ScanProbeFunction", "ScanAnalyzeFunction", "ScanFinalizeFunction"):
        assert workflow.function_name(stage) in invoked


def test_failing_analyze_ends_in_failed_with_code_and_scan_failed_event(
    workflow: Any, site: FixtureSite, published: list
) -> None:
    from botscope.store import scans

    # Given an Analyze stage that crashes
    def broken_analyze(event: dict, context: Any) -> dict:
        raise RuntimeError("analysis exploded: secret internal detail")

    workflow.seam.register(workflow.function_name("ScanAnalyzeFunction"), broken_analyze)
    scan_id, ws_id = _new_scan(site.url("/"))
    # When the workflow runs
    execution = workflow.run(scan_id, ws_id)
    # Then the execution fails through MarkFailed and the scan says why, without internals
    assert execution["status"] == "FAILED"
    scan = scans.get_scan(scan_id)
    assert scan.status == "failed"
    assert scan.error.code == "internal_error"
    assert "secret" not in scan.error.message
    assert workflow.function_name("ScanMarkFailedFunction") in workflow.seam.invocations
    # and scan.failed is published, the marker released; no scan.completed
    assert [(w, t) for w, t, _ in published] == [(ws_id, "scan.failed")]
    assert published[0][2]["error"]["code"] == "internal_error"
    assert scans.get_active(ws_id, scan.target_url) is None


def test_a_crashing_probe_marks_only_its_path_run_failed(
    workflow: Any, site: FixtureSite, published: list
) -> None:
    from botscope.local.seam import load_handler
    from botscope.store import scans

    # Given a probe that crashes for exactly one path run (not a transient error: no retry)
    real_probe = load_handler("scan_probe")
    victims: list[str] = []

    def flaky_probe(event: dict, context: Any) -> dict:
        if not victims:
            victims.append(event["path_run_id"])
        if event["path_run_id"] == victims[0]:
            raise ValueError("probe bug")
        return real_probe(event, context)

    workflow.seam.register(workflow.function_name("ScanProbeFunction"), flaky_probe)
    scan_id, ws_id = _new_scan(site.url("/"))
    # When the workflow runs
    execution = workflow.run(scan_id, ws_id)
    # Then the scan still completes, with that one path run failed and counted once
    assert execution["status"] == "SUCCEEDED", execution
    scan = scans.get_scan(scan_id)
    assert scan.status == "completed"
    assert scan.path_runs_failed == 1
    failed = [r for r in scans.list_path_runs(scan_id) if r.status == "failed"]
    assert [r.path_run_id for r in failed] == victims
    assert failed[0].error.code == "internal_error"
    assert [t for _, t, _ in published] == ["scan.completed"]


def test_a_transient_probe_error_is_retried_by_the_state_machine(
    workflow: Any, site: FixtureSite, published: list
) -> None:
    from botscope.local.seam import load_handler
    from botscope.store import scans
    from botscope.workflow.handler import TransientError

    # Given a probe that fails once with a TransientError for one path run
    real_probe = load_handler("scan_probe")
    attempts: dict[str, int] = {}

    def once_flaky(event: dict, context: Any) -> dict:
        run_id = event["path_run_id"]
        attempts[run_id] = attempts.get(run_id, 0) + 1
        if len(attempts) == 1 and attempts[run_id] == 1:
            raise TransientError("throttled")
        return real_probe(event, context)

    workflow.seam.register(workflow.function_name("ScanProbeFunction"), once_flaky)
    scan_id, ws_id = _new_scan(site.url("/"))
    # When the workflow runs
    execution = workflow.run(scan_id, ws_id)
    # Then Retry ran that path run again and nothing failed
    assert execution["status"] == "SUCCEEDED", execution
    assert sorted(attempts.values())[-1] == 2
    scan = scans.get_scan(scan_id)
    assert scan.status == "completed" and scan.path_runs_failed == 0


def test_a_target_that_never_answers_ends_failed_target_unreachable(workflow: Any, published: list) -> None:
    import socket

    from botscope.store import scans

    # Given a queued scan of a port where nothing listens (every probe is refused)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    scan_id, ws_id = _new_scan(f"http://127.0.0.1:{port}/")
    # When the workflow runs
    execution = workflow.run(scan_id, ws_id)
    # Then the scan failed with target_unreachable instead of completing with posture "none"
    assert execution["status"] == "FAILED"
    scan = scans.get_scan(scan_id)
    assert scan.status == "failed" and scan.report_key is None
    assert scan.error.code == "target_unreachable"
    assert scan.path_runs_failed == scan.path_runs_total > 0
    # and scan.failed is published with the code, never scan.completed
    assert [(w, t) for w, t, _ in published] == [(ws_id, "scan.failed")]
    assert published[0][2]["error"]["code"] == "target_unreachable"
