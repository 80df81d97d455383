"""GET /api/v1/monitoring and DELETE /api/v1/monitoring/{id} (moto)."""

from __future__ import annotations

from typing import Any

from botscope.monitoring.scheduler import Scheduler, SchedulerConfig
from botscope.store import monitoring as store
from botscope.store import workspaces
from botscope.store.monitoring import DynamoScheduleStore

from tests.integration.monitoring.conftest import make_due, past
from tests.unit.monitoring import reports as r


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_list_shows_slots_and_each_url_with_its_schedule_and_summary(
    api_client: Any, workspace_factory: Any, published: list
) -> None:
    from botscope.monitoring import hooks
    from botscope.store import scans

    ws, key = workspace_factory("growth")
    first, _ = store.enroll(ws["workspace_id"], "https://a.example/", cadence_seconds=86400)
    store.enroll(ws["workspace_id"], "https://b.example/", cadence_seconds=86400)
    scan = scans.create_scan(
        ws["workspace_id"],
        "https://a.example/",
        "full",
        monitored_url_id=first.monitored_url_id,
        deadline_seconds=900,
    )
    report = {**r.base_report(), "scan_job_id": scan.scan_job_id}
    hooks.after_scan_completed(scan.model_copy(update={"completed_at": "2026-01-01T00:00:00.000Z"}), report)

    response = api_client.get("/api/v1/monitoring", headers=auth(key))
    assert response.status_code == 200
    body = response.json()
    assert body["slots"] == {"used": 2, "limit": 5}
    assert [d["target_url"] for d in body["data"]] == ["https://b.example/", "https://a.example/"]
    scanned = body["data"][1]
    assert scanned["monitored_url_id"] == first.monitored_url_id
    assert scanned["last_scan_job_id"] == scan.scan_job_id
    assert scanned["last_scanned_at"] == "2026-01-01T00:00:00.000Z"
    assert scanned["next_scan_at"] and scanned["enrolled_at"]
    assert scanned["summary"]["posture"] == "layered" and scanned["summary"]["pending_changes"] == 0
    assert body["data"][0]["summary"] is None  # not scanned yet
    # Internal state never leaves the API.
    assert not {"baseline", "pending_changes", "claim", "outbox_event", "gsi2sk"} & set(scanned)


def test_enterprise_has_no_slot_limit(api_client: Any, workspace_factory: Any) -> None:
    _, key = workspace_factory("enterprise")
    body = api_client.get("/api/v1/monitoring", headers=auth(key)).json()
    assert body == {"slots": {"used": 0, "limit": None}, "data": []}


def test_starter_and_cancelled_workspaces_get_plan_required(api_client: Any, workspace_factory: Any) -> None:
    _, starter_key = workspace_factory("starter")
    assert api_client.get("/api/v1/monitoring", headers=auth(starter_key)).json()["code"] == "plan_required"
    ws, key = workspace_factory("growth")
    workspaces.set_workspace_status(ws["workspace_id"], "cancelled")
    response = api_client.get("/api/v1/monitoring", headers=auth(key))
    assert response.status_code == 403 and response.json()["code"] == "plan_required"


def test_release_frees_the_slot_stops_rescans_and_is_audited(
    api_client: Any, workspace_factory: Any, state_machine: str, executions: Any
) -> None:
    from botscope.service.monitoring import start_scheduled_scan
    from botscope.store import audit as audit_store

    ws, key = workspace_factory("growth", monitor_slots_limit=1)
    record, _ = store.enroll(ws["workspace_id"], "https://a.example/", cadence_seconds=86400)
    mon_id = record.monitored_url_id
    make_due(ws["workspace_id"], mon_id, past())

    response = api_client.delete(f"/api/v1/monitoring/{mon_id}", headers=auth(key))
    assert response.status_code == 204
    assert store.slots(ws["workspace_id"]).to_dict() == {"used": 0, "limit": 1}
    assert api_client.get("/api/v1/monitoring", headers=auth(key)).json()["data"] == []
    # The due entry went with the item: the scheduler starts nothing.
    stats = Scheduler(
        DynamoScheduleStore(),
        start_scheduled_scan,
        SchedulerConfig(max_starts_per_second=0),
        sleep=lambda s: None,
    ).run()
    assert stats.started == 0 and executions() == []
    # The freed slot can be used again.
    _, created = store.enroll(ws["workspace_id"], "https://b.example/", cadence_seconds=86400)
    assert created
    records, _ = audit_store.list_records(ws["workspace_id"], limit=10)
    (released,) = [a for a in records if a.action == "monitoring.released"]
    assert released.target == mon_id and released.actor.startswith("api_key:")
    # Releasing again: 404.
    assert api_client.delete(f"/api/v1/monitoring/{mon_id}", headers=auth(key)).status_code == 404


def test_another_workspaces_url_is_404_and_untouched(api_client: Any, workspace_factory: Any) -> None:
    owner, _ = workspace_factory("growth")
    _, intruder_key = workspace_factory("growth")
    record, _ = store.enroll(owner["workspace_id"], "https://a.example/", cadence_seconds=86400)
    for path in (
        f"/api/v1/monitoring/{record.monitored_url_id}",
        "/api/v1/monitoring/mon_doesnotexist",
        "/api/v1/monitoring/not-an-id",
    ):
        response = api_client.delete(path, headers=auth(intruder_key))
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert store.get_monitored(owner["workspace_id"], record.monitored_url_id) is not None
    assert store.slots(owner["workspace_id"]).used == 1


def test_monitoring_needs_a_credential(api_client: Any) -> None:
    assert api_client.get("/api/v1/monitoring").status_code == 401
    assert api_client.delete("/api/v1/monitoring/mon_x").status_code == 401


def test_release_of_a_malformed_id_is_not_found_without_touching_the_store(
    api_client: Any, workspace_factory: Any, monkeypatch: Any
) -> None:
    # "mon_" followed by 2000 characters used to reach GetItem as a sort key (capped at 1024 bytes
    # by DynamoDB: a ValidationException, so a 500). Only a well-formed id reaches the store.
    _, key = workspace_factory("growth")
    reads: list[tuple[str, str]] = []
    monkeypatch.setattr(store, "get_monitored", lambda ws, mon: reads.append((ws, mon)))
    for bad in ("mon_" + "a" * 2000, "mon_short", "scan_01jd3k6z2m0000000000000000"):
        response = api_client.delete(f"/api/v1/monitoring/{bad}", headers=auth(key))
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    assert reads == []
