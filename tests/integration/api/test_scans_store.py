"""botscope.store.scans against moto: the conditional transitions the workflow and the API rely on."""

from __future__ import annotations

from botscope.store import scans
from botscope.store.table import table

from tests.helpers.entities import undeclared_attributes
from tests.integration.api._support import held_leases

URL = "https://example.com/"


def new_scan(workspace_id: str = "ws_a") -> str:
    return scans.create_scan(workspace_id, URL, "full", deadline_seconds=900).scan_job_id


def test_status_never_leaves_a_terminal_state(aws):
    scan_id = new_scan()
    assert scans.mark_running(scan_id, "arn:exec") is True
    assert scans.mark_running(scan_id) is False  # only from queued
    assert scans.mark_completed(
        scan_id, report_key="reports/x.json", ruleset_version="1", summary={"score": 0.5}
    )
    assert scans.mark_failed(scan_id, "late", "a Catch firing after Finalize") is False
    assert scans.mark_completed(scan_id, report_key="other", ruleset_version="2", summary=None) is False
    scan = scans.get_scan(scan_id)
    assert scan.status == "completed" and scan.error is None and scan.report_key == "reports/x.json"
    assert scan.summary == {"score": 0.5} and scan.execution_arn == "arn:exec"


def test_a_retried_prepare_gets_the_same_path_runs(aws):
    scan_id = new_scan()
    first = scans.put_path_runs(
        scan_id,
        [
            {"path": "/", "profile": "browser", "path_run_id": None},
            {"path": "/login", "profile": "ai_agent", "critical": True},
        ],
    )
    again = scans.put_path_runs(scan_id, [{"path": "/other", "profile": "browser"}])
    assert again == first and len(scans.list_path_runs(scan_id)) == 2
    assert scans.get_scan(scan_id).path_runs_total == 2
    assert first[1].critical is True and first[0].status == "pending"


def test_path_run_counters_move_once_per_run(aws):
    scan_id = new_scan()
    runs = scans.put_path_runs(
        scan_id, [{"path": "/", "profile": "browser"}, {"path": "/a", "profile": "browser"}]
    )
    a, b = (r.path_run_id for r in runs)
    assert scans.update_path_run(scan_id, a, status="completed", outcome="served", http_status=200)
    assert not scans.update_path_run(
        scan_id, a, status="failed", outcome="error", error={"code": "x", "message": "Catch after success"}
    )
    assert not scans.update_path_run(scan_id, a, status="running")  # no regression either
    assert scans.update_path_run(
        scan_id, b, status="failed", outcome="error", error={"code": "t", "message": "m"}
    )
    scan = scans.get_scan(scan_id)
    assert (scan.path_runs_completed, scan.path_runs_failed) == (1, 1)
    assert scans.get_path_run(scan_id, a).outcome == "served"
    assert not scans.update_path_run(scan_id, "run_missing", status="completed")


def test_the_active_marker_is_held_by_one_running_scan(aws):
    first, second, third = new_scan(), new_scan(), new_scan()
    assert scans.claim_active("ws_a", URL, first) is None
    assert scans.claim_active("ws_a", URL, first) is None  # the holder may claim again
    assert scans.claim_active("ws_a", URL, second) == first
    assert scans.claim_active("ws_b", URL, second) is None  # other workspace, other marker
    assert scans.release_active("ws_a", URL, second) is False  # only the holder releases
    assert scans.get_active("ws_a", URL) == first

    # A terminal holder is stale: finishing releases the marker, and even a leftover one is replaced.
    scans.mark_failed(first, "boom", "failed")
    assert scans.get_active("ws_a", URL) is None
    table().put_item(
        Item={
            "pk": "WS#ws_a",
            "sk": scans._active_key("ws_a", URL)["sk"],
            "scan_job_id": first,
            "expires_at": 4_102_444_800,
        }
    )
    assert scans.claim_active("ws_a", URL, second) is None
    # An expired marker is replaced even if its scan still looks running.
    table().update_item(
        Key=scans._active_key("ws_a", URL),
        UpdateExpression="SET expires_at = :e",
        ExpressionAttributeValues={":e": 1},
    )
    assert scans.claim_active("ws_a", URL, third) is None and scans.get_active("ws_a", URL) == third


def test_discard_only_removes_an_untouched_queued_scan(aws):
    untouched, started = new_scan(), new_scan()
    scans.mark_running(started)
    scans.discard_scan(untouched)
    scans.discard_scan(started)
    assert scans.get_scan(untouched) is None and scans.get_scan(started).status == "running"


def test_floats_round_trip_and_numbers_come_back_as_plain_types(aws):
    scan_id = new_scan()
    scans.mark_completed(scan_id, report_key="k", ruleset_version="1", summary={"score": 0.25, "count": 3})
    summary = scans.get_scan(scan_id).summary
    assert summary == {"score": 0.25, "count": 3}
    assert type(summary["score"]) is float and type(summary["count"]) is int


def _raw(pk: str, sk: str) -> dict:
    return table().get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True)["Item"]


def test_the_entities_declare_every_attribute_the_repository_writes(aws):
    cancelled, completed = new_scan(), new_scan()
    (run,) = scans.put_path_runs(cancelled, [{"path": "/", "profile": "browser", "critical": True}])
    scans.put_path_runs(completed, [{"path": "/a", "profile": "browser"}])
    assert scans.mark_running(cancelled, "arn:exec")
    assert scans.claim_concurrency_lease("ws_a", cancelled, limit=2) is not None
    scans.record_published_event(cancelled, "scan.cancelled", "evt_1")
    assert scans.mark_cancelled(cancelled) is not None
    assert scans.cancel_pending_path_runs(cancelled) == 1
    scans.set_report(cancelled, "reports/c.json", summary={"posture": "none"}, report_complete=False)
    assert scans.update_path_run(completed, scans.list_path_runs(completed)[0].path_run_id, status="running")
    assert scans.mark_completed(completed, report_key="reports/d.json", ruleset_version="1", summary=None)

    for scan_id in (cancelled, completed):
        raw = _raw(f"SCAN#{scan_id}", "META")
        assert undeclared_attributes(scans.Scan, raw) == set()
        assert scans.Scan.from_item(raw) == scans.get_scan(scan_id)
    for scan_id in (cancelled, completed):
        for stored in scans.list_path_runs(scan_id):
            raw = _raw(f"SCAN#{scan_id}", f"RUN#{stored.path_run_id}")
            assert undeclared_attributes(scans.PathRun, raw) == set()
    scan = scans.get_scan(cancelled)
    assert scan.status == "cancelled" and scan.error.code == "cancelled" and scan.cancelled_at
    assert scan.published_events == {"scan.cancelled": "evt_1"} and scan.report_complete is False
    assert scan.path_runs_cancelled == 1 and scan.concurrency_slot in (0, 1)
    assert scans.get_path_run(cancelled, run.path_run_id).error.code == "cancelled"


def test_racing_claims_of_a_stale_marker_elect_one_holder(aws, atomic_dynamodb):
    from tests.integration.api.test_slot_race import run_together

    stale = new_scan()
    assert scans.claim_active("ws_a", URL, stale) is None
    assert scans.mark_failed(stale, "boom", "failed")  # releases the marker: put a leftover back
    table().put_item(
        Item={**scans._active_key("ws_a", URL), "scan_job_id": stale, "expires_at": 4_102_444_800}
    )
    contenders = [new_scan() for _ in range(8)]
    results = run_together(8, lambda n: scans.claim_active("ws_a", URL, contenders[n]))
    winners = [c for c, result in zip(contenders, results, strict=True) if result is None]
    assert len(winners) == 1, results
    assert all(result == winners[0] for result in results if result is not None)
    assert scans.get_active("ws_a", URL) == winners[0]


def test_racing_lease_claims_take_each_stale_slot_once(aws, atomic_dynamodb):
    from tests.integration.api.test_slot_race import run_together

    for slot in range(3):  # leases left behind by scans that ended without releasing them
        ended = new_scan()
        assert scans.mark_failed(ended, "boom", "failed")
        table().put_item(
            Item={**scans._slot_key("ws_a", slot), "scan_job_id": ended, "expires_at": 4_102_444_800}
        )
    contenders = [new_scan() for _ in range(8)]
    slots = run_together(8, lambda n: scans.claim_concurrency_lease("ws_a", contenders[n], limit=3))
    assert sorted(s for s in slots if s is not None) == [0, 1, 2], slots
    assert held_leases("ws_a") == 3
    for contender, slot in zip(contenders, slots, strict=True):
        assert scans.get_scan(contender).concurrency_slot == slot
