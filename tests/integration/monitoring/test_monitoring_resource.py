"""GET / PATCH /api/v1/monitoring/{id} and POST /api/v1/monitoring/{id}/rescan (moto; the workflow
edge is the root conftest's Pass machine)."""

from __future__ import annotations

from typing import Any

import pytest
from botscope.monitoring.scheduler import Scheduler, SchedulerConfig
from botscope.store import scans
from botscope.store.monitoring import DynamoScheduleStore, MonitoredUrl, ScheduleClaim
from botscope.store.workspaces import Workspace

from tests.integration.monitoring.conftest import make_due, past
from tests.integration.monitoring.test_change_events import MonitoredSite, changed_events
from tests.unit.monitoring import reports as r


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def monitored(
    api_client: Any, workspace_factory: Any, state_machine: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[MonitoredSite, str]:
    from botscope.service import scans as scan_service

    # The rescan passes the SSRF guard again: the monitored host resolves to a public address.
    monkeypatch.setattr(scan_service, "target_resolver", lambda host: ["93.184.215.14"])
    ws, key = workspace_factory("growth")
    return MonitoredSite(ws["workspace_id"]), key


def _scheduler(started: list[str]) -> Scheduler:
    def starter(item: MonitoredUrl, claim: ScheduleClaim, workspace: Workspace) -> str:
        started.append(item.monitored_url_id)
        return claim.scan_job_id

    return Scheduler(
        DynamoScheduleStore(), starter, SchedulerConfig(max_starts_per_second=0), sleep=lambda s: None
    )


def test_get_shows_schedule_last_scan_and_the_change_history_newest_first(
    api_client: Any, monitored: tuple[MonitoredSite, str], published: list
) -> None:
    site, key = monitored
    base = r.base_report()
    site.complete(base)
    site.complete(r.without_finding(base, "x", "fp_challenge_login"))  # an immediate change
    site.complete(base)  # and back: confirmed
    site.complete(base)  # by a second scan
    events = changed_events(published)
    assert len(events) == 2
    newest, older = events[1]["scan_job_id"], events[0]["scan_job_id"]

    response = api_client.get(f"/api/v1/monitoring/{site.mon_id}", headers=auth(key))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["monitored_url_id"] == site.mon_id and body["paused"] is False and body["scan_mode"] == "full"
    assert body["schedule"]["cadence_seconds"] == 3600 and body["schedule"]["next_scan_at"]
    assert body["last_scan"]["scan_job_id"] == site.scan_ids[-1]
    assert body["links"]["rescan"] == f"/api/v1/monitoring/{site.mon_id}/rescan"
    history = body["changes"]["data"]
    assert [h["scan_job_id"] for h in history] == [newest, older]
    # the same entries as the events
    for entry, event in zip(history, reversed(events), strict=True):
        assert {k: v for k, v in entry.items() if k != "detected_at"} == event
        assert entry["detected_at"]

    # cursor pagination
    first = api_client.get(f"/api/v1/monitoring/{site.mon_id}?limit=1", headers=auth(key)).json()["changes"]
    assert first["has_more"] is True and [h["scan_job_id"] for h in first["data"]] == [newest]
    after = first["data"][0]["scan_job_id"]
    second = api_client.get(
        f"/api/v1/monitoring/{site.mon_id}?limit=1&starting_after={after}", headers=auth(key)
    ).json()["changes"]
    assert second["has_more"] is False and [h["scan_job_id"] for h in second["data"]] == [older]


def test_another_workspace_gets_404(
    api_client: Any, monitored: tuple[MonitoredSite, str], workspace_factory: Any
) -> None:
    site, _ = monitored
    _, other = workspace_factory("growth")
    for response in (
        api_client.get(f"/api/v1/monitoring/{site.mon_id}", headers=auth(other)),
        api_client.patch(f"/api/v1/monitoring/{site.mon_id}", json={"paused": True}, headers=auth(other)),
        api_client.post(f"/api/v1/monitoring/{site.mon_id}/rescan", headers=auth(other)),
        api_client.get("/api/v1/monitoring/mon_nope", headers=auth(other)),
    ):
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_paused_url_is_not_rescanned_until_resumed(
    api_client: Any, monitored: tuple[MonitoredSite, str]
) -> None:
    site, key = monitored
    make_due(site.workspace_id, site.mon_id, past())

    paused = api_client.patch(f"/api/v1/monitoring/{site.mon_id}", json={"paused": True}, headers=auth(key))
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True and paused.json()["schedule"]["next_scan_at"] is None
    started: list[str] = []
    _scheduler(started).run()
    assert started == []

    resumed = api_client.patch(
        f"/api/v1/monitoring/{site.mon_id}", json={"paused": False, "scan_mode": "quick"}, headers=auth(key)
    )
    assert resumed.status_code == 200 and resumed.json()["scan_mode"] == "quick"
    _scheduler(started).run()
    assert started == [site.mon_id]


def test_the_scheduler_uses_the_urls_scan_mode(
    api_client: Any, monitored: tuple[MonitoredSite, str], state_machine: str
) -> None:
    from botscope.service.monitoring import run_scheduler

    site, key = monitored
    assert (
        api_client.patch(
            f"/api/v1/monitoring/{site.mon_id}", json={"scan_mode": "quick"}, headers=auth(key)
        ).status_code
        == 200
    )
    make_due(site.workspace_id, site.mon_id, past())
    stats = run_scheduler()
    assert stats.started == 1
    assert scans.get_scan(stats.started_ids[0]).scan_mode == "quick"


def test_patch_rejects_unknown_fields_and_bad_values(
    api_client: Any, monitored: tuple[MonitoredSite, str]
) -> None:
    site, key = monitored
    for body in ({"pause": True}, {"paused": "yes"}, {"scan_mode": "deep"}):
        response = api_client.patch(f"/api/v1/monitoring/{site.mon_id}", json=body, headers=auth(key))
        assert response.status_code == 422 and response.json()["code"] == "validation_error", body


def test_rescan_starts_a_scan_then_409_while_it_runs_then_429_within_the_minute(
    api_client: Any, monitored: tuple[MonitoredSite, str]
) -> None:
    site, key = monitored
    response = api_client.post(f"/api/v1/monitoring/{site.mon_id}/rescan", headers=auth(key))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["monitored_url_id"] == site.mon_id and body["status"] == "queued"
    assert response.headers["location"] == body["links"]["self"] == f"/api/v1/scans/{body['scan_job_id']}"
    scan = scans.get_scan(body["scan_job_id"])
    assert scan.monitored_url_id == site.mon_id and scan.trigger == "rescan"

    running = api_client.post(f"/api/v1/monitoring/{site.mon_id}/rescan", headers=auth(key))
    assert running.status_code == 409 and running.json()["code"] == "scan_in_progress"
    assert running.headers["location"] == body["links"]["self"]

    assert scans.mark_cancelled(body["scan_job_id"]) is not None
    limited = api_client.post(f"/api/v1/monitoring/{site.mon_id}/rescan", headers=auth(key))
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1


def test_force_due_names_the_url(
    api_client: Any, monitored: tuple[MonitoredSite, str], monkeypatch: Any
) -> None:
    from botscope.errors import NotFound
    from botscope.service import monitoring

    site, _ = monitored
    before = site.item().next_scan_at
    assert monitoring.force_due(site.workspace_id, target_url="https://SHOP.example") == site.mon_id
    assert site.item().next_scan_at < before
    started: list[str] = []
    _scheduler(started).run()
    assert started == [site.mon_id]
    with pytest.raises(NotFound):
        monitoring.force_due(site.workspace_id, target_url="https://other.example/")
