"""botscope.store.scans against moto: the conditional transitions the workflow and the API rely on."""

from __future__ import annotations

from botscope.store import scans
from botscope.store.table import table

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
