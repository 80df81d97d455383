"""POST /api/v1/scans/{id}/cancel and the MCP ``cancel_scan`` tool, on moto (the workflow edge is the
root conftest's Pass machine; the real ASL's cancel is tested in tests/integration/workflow)."""

from __future__ import annotations

from typing import Any

import pytest
from botscope.store import reports, scans

from tests.integration.api._support import bearer, complete_scan
from tests.integration.api.test_scans_api import audit_actions


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    from botscope.webhooks import fanout

    calls: list[tuple[str, str, dict[str, Any]]] = []

    def record(workspace_id: str, event_type: str, data: dict[str, Any], **kwargs: Any) -> str:
        calls.append((workspace_id, event_type, data))
        return "evt_recorded"

    monkeypatch.setattr(fanout, "publish_event", record)
    return calls


def _start(client: Any, key: str, url: str = "https://example.com/") -> dict[str, Any]:
    created = client.post(
        "/api/v1/scans", json={"target_url": url, "scan_mode": "quick"}, headers=bearer(key)
    )
    assert created.status_code == 202, created.text
    return dict(created.json())


def test_cancel_a_planned_scan_answers_202_then_200(scan_api, workspace_factory, published):
    ws, key = workspace_factory("enterprise")
    scan = _start(scan_api, key)
    scan_id = scan["scan_job_id"]
    # The workflow planned two path runs and started probing the first before the cancel
    scans.mark_running(scan_id)
    runs = scans.put_path_runs(
        scan_id,
        [
            {"path": "/", "profile": "browser"},
            {"path": "/robots.txt", "profile": "browser", "kind": "policy"},
        ],
    )
    assert scans.start_path_run(scan_id, runs[0].path_run_id)

    cancelled = scan_api.post(f"/api/v1/scans/{scan_id}/cancel", headers=bearer(key))

    assert cancelled.status_code == 202, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["error"]["code"] == "cancelled"
    by_id = {r["path_run_id"]: r for r in body["path_runs"]}
    assert by_id[runs[1].path_run_id]["status"] == "cancelled"  # pending → cancelled
    assert by_id[runs[0].path_run_id]["status"] == "running"  # in flight: it finishes on its own
    assert body["progress"]["path_runs_cancelled"] == 1
    assert [(w, t) for w, t, _ in published] == [(ws["workspace_id"], "scan.cancelled")]
    assert published[0][2]["scan_job_id"] == scan_id and published[0][2]["status"] == "cancelled"
    # A path run of the cancelled scan can no longer start a probe
    assert scans.start_path_run(scan_id, runs[1].path_run_id) is False

    again = scan_api.post(f"/api/v1/scans/{scan_id}/cancel", headers=bearer(key))
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert len(published) == 1
    assert sorted(audit_actions(ws["workspace_id"])) == ["scan.cancelled", "scan.started"]


def test_cancel_releases_the_url_so_a_new_scan_starts(scan_api, workspace_factory, published):
    ws, key = workspace_factory("enterprise")
    first = _start(scan_api, key)
    assert scans.get_active(ws["workspace_id"], first["target_url"]) == first["scan_job_id"]
    assert (
        scan_api.post(f"/api/v1/scans/{first['scan_job_id']}/cancel", headers=bearer(key)).status_code == 202
    )
    assert scans.get_active(ws["workspace_id"], first["target_url"]) is None
    second = _start(scan_api, key)
    assert second["scan_job_id"] != first["scan_job_id"]


def test_a_scan_cancelled_before_planning_has_no_report(scan_api, workspace_factory, published):
    _, key = workspace_factory("enterprise")
    scan_id = _start(scan_api, key)["scan_job_id"]
    assert scan_api.post(f"/api/v1/scans/{scan_id}/cancel", headers=bearer(key)).status_code == 202
    report = scan_api.get(f"/api/v1/scans/{scan_id}/report", headers=bearer(key))
    assert report.status_code == 409 and report.json()["code"] == "scan_cancelled"


def test_a_completed_scan_is_not_cancelled(scan_api, workspace_factory, published):
    _, key = workspace_factory("enterprise")
    scan_id = _start(scan_api, key)["scan_job_id"]
    complete_scan(scan_id)
    response = scan_api.post(f"/api/v1/scans/{scan_id}/cancel", headers=bearer(key))
    assert response.status_code == 200 and response.json()["status"] == "completed"
    assert published == []
    assert scans.get_scan(scan_id).status == "completed"
    assert reports.get_report(scans.get_scan(scan_id).report_key)["findings"]


def test_another_workspace_cannot_cancel(scan_api, workspace_factory, published):
    _, key = workspace_factory("enterprise")
    _, other = workspace_factory("enterprise")
    scan_id = _start(scan_api, key)["scan_job_id"]
    response = scan_api.post(f"/api/v1/scans/{scan_id}/cancel", headers=bearer(other))
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert scans.get_scan(scan_id).status == "queued"
    assert scan_api.post(f"/api/v1/scans/{scan_id}/cancel").status_code == 401
    assert published == []
