"""Issue 15 item 4: the concurrent-scan limit is atomic. N parallel starts of *different* URLs with
M free slots accept exactly min(N, M); the rest answer 429 and leave nothing behind; every way a
scan ends frees its lease. Threads are released together by a barrier; assertions are on counts."""

from __future__ import annotations

import pytest
from botscope.config import reset_settings
from botscope.store import monitoring, scans

from tests.integration.api._support import bearer, executions, held_leases
from tests.integration.api.test_slot_race import run_together


@pytest.fixture
def limit_of(monkeypatch):
    def set_limit(limit: int) -> None:
        monkeypatch.setenv("BOTSCOPE_MAX_CONCURRENT_SCANS", str(limit))
        reset_settings()

    yield set_limit
    reset_settings()


@pytest.mark.parametrize(("starts", "limit"), [(25, 10), (40, 10), (4, 10)])
def test_parallel_starts_accept_exactly_the_free_slots(
    scan_api, workspace_factory, state_machine, limit_of, starts, limit
):
    limit_of(limit)
    ws, key = workspace_factory("enterprise")
    results = run_together(
        starts,
        lambda n: scan_api.post(
            "/api/v1/scans", json={"target_url": f"https://c{n}.example.com/"}, headers=bearer(key)
        ),
    )
    accepted = [r for r in results if r.status_code == 202]
    refused = [r for r in results if r.status_code != 202]
    assert len(accepted) == min(starts, limit), sorted(r.status_code for r in results)
    assert all(r.status_code == 429 and r.json()["code"] == "rate_limited" for r in refused)
    assert len(executions(state_machine)) == len(accepted)
    assert held_leases(ws["workspace_id"]) == len(accepted)
    listed, _ = scans.list_scans(ws["workspace_id"], limit=100)
    assert sorted(s.scan_job_id for s in listed) == sorted(r.json()["scan_job_id"] for r in accepted)


def test_a_refused_enrolling_start_returns_its_monitoring_slot(scan_api, workspace_factory, limit_of):
    limit_of(3)
    ws, key = workspace_factory("growth", monitor_slots_limit=20)
    results = run_together(
        12,
        lambda n: scan_api.post(
            "/api/v1/scans",
            json={"target_url": f"https://m{n}.example.com/", "enroll_monitoring": True},
            headers=bearer(key),
        ),
    )
    assert sorted(r.status_code for r in results) == [202] * 3 + [429] * 9
    assert monitoring.slots(ws["workspace_id"]).used == 3


def test_every_end_of_a_scan_frees_its_lease(scan_api, workspace_factory, limit_of):
    from botscope.workflow.stages import expire_if_overdue

    limit_of(3)
    ws, key = workspace_factory("enterprise")
    wsid = ws["workspace_id"]
    ids = [
        scan_api.post(
            "/api/v1/scans", json={"target_url": f"https://e{n}.example.com/"}, headers=bearer(key)
        ).json()["scan_job_id"]
        for n in range(3)
    ]
    assert held_leases(wsid) == 3
    blocked = scan_api.post(
        "/api/v1/scans", json={"target_url": "https://x.example.com/"}, headers=bearer(key)
    )
    assert blocked.status_code == 429

    assert scans.mark_completed(ids[0], report_key="k", ruleset_version="v", summary=None)
    assert scans.mark_failed(ids[1], "probe_failed", "x")
    overdue = scans.get_scan(ids[2]).model_copy(update={"deadline_at": "2000-01-01T00:00:00Z"})
    assert expire_if_overdue(overdue).status == "failed"  # the timeout sweep's transition
    assert held_leases(wsid) == 0
    assert not scans.release_concurrency_lease(wsid, ids[0])  # idempotent

    again = [
        scan_api.post("/api/v1/scans", json={"target_url": f"https://f{n}.example.com/"}, headers=bearer(key))
        for n in range(4)
    ]
    assert [r.status_code for r in again] == [202, 202, 202, 429]


def test_a_lease_whose_scan_ended_without_releasing_is_reclaimed(scan_api, workspace_factory, limit_of):
    from botscope.store.table import table

    limit_of(1)
    ws, key = workspace_factory("enterprise")
    first = scan_api.post("/api/v1/scans", json={"target_url": "https://a.example.com/"}, headers=bearer(key))
    scan_id = first.json()["scan_job_id"]
    # A terminal status written without the release (as if that write was lost).
    table().update_item(
        Key={"pk": f"SCAN#{scan_id}", "sk": "META"},
        UpdateExpression="SET #s = :f",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":f": "failed"},
    )
    scans.release_active(ws["workspace_id"], "https://a.example.com/", scan_id)
    second = scan_api.post(
        "/api/v1/scans", json={"target_url": "https://b.example.com/"}, headers=bearer(key)
    )
    assert second.status_code == 202, second.text
