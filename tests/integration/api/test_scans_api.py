"""The scan lifecycle over HTTP against moto: create (validation, SSRF guard, plans, monitoring
slots, reuse of a running scan, start failure), status, findings, report, listing, tenant isolation."""

from __future__ import annotations

import socket

import pytest
from botscope.service import scans as service
from botscope.store import monitoring, scans, workspaces

from tests.fixtures.site.server import CanaryServer
from tests.integration.api._support import bearer, complete_scan, executions

SCANS = "/api/v1/scans"


def post_scan(client, key, target_url, **extra):
    headers = {**bearer(key), **extra.pop("headers", {})}
    return client.post(SCANS, json={"target_url": target_url, **extra}, headers=headers)


def assert_problem(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code and body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def audit_actions(workspace_id):
    from botscope.store.table import table

    items = table().query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"WS#{workspace_id}#AUDIT"}
    )["Items"]
    return sorted(i["action"] for i in items)


# --- create --------------------------------------------------------------------------------------


def test_enterprise_scan_is_accepted_with_location_and_starts_the_workflow(
    scan_api, workspace_factory, state_machine
):
    ws, key = workspace_factory("enterprise")
    response = post_scan(scan_api, key, "HTTPS://WWW.Example.com:443", scan_mode="quick")
    assert response.status_code == 202, response.text
    body = response.json()
    scan_id = body["scan_job_id"]
    assert response.headers["location"] == f"{SCANS}/{scan_id}"
    assert body["status"] == "queued" and body["scan_mode"] == "quick"
    assert body["target_url"] == "https://www.example.com/"
    assert body["monitoring"] is None
    assert body["links"] == {
        "self": f"{SCANS}/{scan_id}",
        "findings": f"{SCANS}/{scan_id}/findings",
        "report": f"{SCANS}/{scan_id}/report",
    }
    assert executions(state_machine) == [scan_id]
    stored = scans.get_scan(scan_id)
    assert stored.workspace_id == ws["workspace_id"] and stored.execution_arn.endswith(scan_id)


def test_canary_server_receives_nothing_and_no_socket_is_opened_for_bad_targets(
    scan_api, workspace_factory, state_machine
):
    from botscope.config import get_settings

    assert get_settings().allowed_private_networks == ()  # BOTSCOPE_ALLOW_PRIVATE_TARGETS unset
    ws, key = workspace_factory("enterprise")
    with CanaryServer() as canary:
        bad = {
            f"http://127.0.0.1:{canary.port}/": "target_not_public",
            "http://127.0.0.1/": "target_not_public",
            "http://169.254.169.254/latest/meta-data/": "target_not_public",
            "http://2130706433/": "target_not_public",
            f"http://0x7f.1:{canary.port}/": "target_not_public",
            f"http://[::ffff:127.0.0.1]:{canary.port}/": "target_not_public",
            "file:///etc/passwd": "invalid_target",
            "gopher://example.com/": "invalid_target",
            f"http://user:pass@127.0.0.1:{canary.port}/": "invalid_target",
            "https://example.com:99999/": "invalid_target",
            "https://example.com:abc/": "invalid_target",
            "not a url": "invalid_target",
        }
        connects: list[object] = []
        lookups: list[object] = []
        real_connect = socket.socket.connect

        def spy_connect(sock, address):
            connects.append(address)
            return real_connect(sock, address)

        def spy_getaddrinfo(*args, **kwargs):
            lookups.append(args)
            raise socket.gaierror("lookups are not expected here")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(service, "target_resolver", None)  # the production resolver path
            patch.setattr(socket.socket, "connect", spy_connect)
            patch.setattr(socket, "getaddrinfo", spy_getaddrinfo)
            for url, code in bad.items():
                body = assert_problem(post_scan(scan_api, key, url), 422, code)
                assert body["errors"][0]["field"] == "target_url", url
                assert "127.0.0.1" not in body["detail"] and "169.254" not in body["detail"]
        assert canary.hits == []
    assert connects == [] and lookups == []
    assert executions(state_machine) == []
    assert scans.list_scans(ws["workspace_id"])[0] == []


def test_private_targets_are_allowed_only_when_opted_in(scan_api, workspace_factory, monkeypatch):
    from botscope.config import reset_settings

    ws, key = workspace_factory("enterprise")
    assert_problem(post_scan(scan_api, key, "http://127.0.0.1:8080/"), 422, "target_not_public")
    monkeypatch.setenv("BOTSCOPE_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8")
    reset_settings()
    assert post_scan(scan_api, key, "http://127.0.0.1:8080/").status_code == 202
    # The opt-in covers its CIDR only: the metadata address stays blocked.
    assert_problem(post_scan(scan_api, key, "http://169.254.169.254/"), 422, "target_not_public")


def test_a_name_resolving_to_a_private_address_is_rejected(scan_api, workspace_factory):
    _, key = workspace_factory("enterprise")
    body = assert_problem(post_scan(scan_api, key, "http://db.internal.test/"), 422, "target_not_public")
    assert "10.0.0.7" not in body["detail"]
    assert_problem(post_scan(scan_api, key, "https://nowhere.invalid/"), 422, "target_unresolvable")


def test_missing_malformed_and_unknown_keys_get_401_with_www_authenticate(scan_api, workspace_factory):
    from botscope.auth import tokens

    workspace_factory("enterprise")
    body = {"target_url": "https://example.com"}
    for headers in (
        {},
        {"Authorization": "Bearer dxk_notarealkey"},
        {"Authorization": "Basic abc"},
        {"Authorization": f"Bearer {tokens.issue('dxk').token}"},
    ):
        response = scan_api.post(SCANS, json=body, headers=headers)
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert scan_api.get(f"{SCANS}", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("plan", "status"), [("starter", "active"), ("growth", "past_due"), ("enterprise", "cancelled")]
)
def test_plans_without_scanning_get_403_plan_required(scan_api, workspace_factory, plan, status):
    ws, key = workspace_factory(plan, status=status)
    assert_problem(
        post_scan(scan_api, key, "https://example.com", enroll_monitoring=True), 403, "plan_required"
    )
    assert monitoring.slots(ws["workspace_id"]).used == 0


def test_growth_needs_a_monitored_url(scan_api, workspace_factory):
    ws, key = workspace_factory("growth")
    body = assert_problem(post_scan(scan_api, key, "https://example.com"), 403, "url_not_monitored")
    assert "enroll_monitoring" in body["detail"]
    assert scans.list_scans(ws["workspace_id"])[0] == []


def test_growth_enrollment_claims_one_slot_and_later_scans_reuse_it(scan_api, workspace_factory):
    ws, key = workspace_factory("growth")
    first = post_scan(scan_api, key, "https://example.com/pricing", enroll_monitoring=True)
    assert first.status_code == 202, first.text
    mon = first.json()["monitoring"]
    assert mon["enrolled"] is True and mon["monitored_url_id"].startswith("mon_")
    assert monitoring.slots(ws["workspace_id"]).to_dict() == {"used": 1, "limit": 5}
    complete_scan(first.json()["scan_job_id"])

    # The URL is monitored now: a plain scan is allowed and enrolling again claims nothing.
    again = post_scan(scan_api, key, "https://EXAMPLE.com/pricing", enroll_monitoring=True)
    assert again.status_code == 202
    assert again.json()["monitoring"] == mon
    complete_scan(again.json()["scan_job_id"])
    plain = post_scan(scan_api, key, "https://example.com/pricing")
    assert plain.status_code == 202 and plain.json()["monitoring"] == mon
    assert monitoring.slots(ws["workspace_id"]).to_dict() == {"used": 1, "limit": 5}
    assert [m.target_url for m in monitoring.list_monitored(ws["workspace_id"])] == [
        "https://example.com/pricing"
    ]


def test_full_growth_workspace_gets_409_and_its_slot_count_is_unchanged(
    scan_api, workspace_factory, state_machine
):
    ws, key = workspace_factory("growth", monitor_slots_limit=2)
    for n in range(2):
        assert (
            post_scan(scan_api, key, f"https://s{n}.example.com/", enroll_monitoring=True).status_code == 202
        )
    before = monitoring.slots(ws["workspace_id"])
    assert before.to_dict() == {"used": 2, "limit": 2}
    started = executions(state_machine)

    body = assert_problem(
        post_scan(scan_api, key, "https://s9.example.com/", enroll_monitoring=True),
        409,
        "monitoring_slots_exhausted",
    )
    assert "2" in body["detail"]
    assert monitoring.slots(ws["workspace_id"]) == before
    assert monitoring.get_monitored_by_url(ws["workspace_id"], "https://s9.example.com/") is None
    assert executions(state_machine) == started
    assert workspaces.get_workspace(ws["workspace_id"]).monitor_slots_used == 2


def test_enterprise_enrolls_without_a_cap(scan_api, workspace_factory):
    ws, key = workspace_factory("enterprise")
    for n in range(7):
        assert (
            post_scan(scan_api, key, f"https://e{n}.example.com/", enroll_monitoring=True).status_code == 202
        )
    assert monitoring.slots(ws["workspace_id"]).to_dict() == {"used": 7, "limit": None}


def test_a_running_scan_of_the_same_url_is_returned_instead_of_a_second(
    scan_api, workspace_factory, state_machine
):
    ws, key = workspace_factory("enterprise")
    first = post_scan(scan_api, key, "https://example.com/")
    second = post_scan(scan_api, key, "https://example.com")  # same URL once normalized
    assert first.status_code == 202 and second.status_code == 200
    assert second.json()["scan_job_id"] == first.json()["scan_job_id"]
    assert second.headers["location"] == first.headers["location"]
    assert len(executions(state_machine)) == 1
    assert len(scans.list_scans(ws["workspace_id"])[0]) == 1

    # Another workspace scanning the same URL gets its own scan.
    _, other_key = workspace_factory("enterprise")
    assert post_scan(scan_api, other_key, "https://example.com/").status_code == 202

    # Once the first scan finished, a new one starts.
    complete_scan(first.json()["scan_job_id"])
    third = post_scan(scan_api, key, "https://example.com/")
    assert third.status_code == 202 and third.json()["scan_job_id"] != first.json()["scan_job_id"]


def test_failed_workflow_start_leaves_nothing_behind(scan_api, workspace_factory, state_machine):
    import botscope.workflow.starter as starter

    ws, key = workspace_factory("growth")

    def broken(scan_job_id, workspace_id):
        raise RuntimeError("StartExecution throttled")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(starter, "start_scan_execution", broken)
        body = assert_problem(
            post_scan(scan_api, key, "https://example.com/", enroll_monitoring=True), 503, "scan_start_failed"
        )
    assert "throttled" not in body["detail"]
    assert monitoring.slots(ws["workspace_id"]).used == 0
    assert monitoring.get_monitored_by_url(ws["workspace_id"], "https://example.com/") is None
    [failed], _ = scans.list_scans(ws["workspace_id"])
    assert failed.status == "failed" and failed.error.code == "start_failed"
    assert scans.get_active(ws["workspace_id"], "https://example.com/") is None
    assert audit_actions(ws["workspace_id"]) == []

    retry = post_scan(scan_api, key, "https://example.com/", enroll_monitoring=True)
    assert retry.status_code == 202 and retry.json()["scan_job_id"] != failed.scan_job_id
    assert monitoring.slots(ws["workspace_id"]).used == 1
    assert audit_actions(ws["workspace_id"]) == ["monitoring.enrolled", "scan.started"]


def test_body_validation_lists_fields_and_rejects_unknown_ones(scan_api, workspace_factory):
    _, key = workspace_factory("enterprise")
    body = assert_problem(
        scan_api.post(
            SCANS, json={"target_url": "https://example.com", "scan_mod": "quick"}, headers=bearer(key)
        ),
        422,
        "validation_error",
    )
    assert {"field": "scan_mod", "message": "Extra inputs are not permitted"} in body["errors"]
    body = assert_problem(
        scan_api.post(
            SCANS,
            json={"target_url": "https://example.com", "scan_mode": "deep", "enroll_monitoring": "yes"},
            headers=bearer(key),
        ),
        422,
        "validation_error",
    )
    assert {e["field"] for e in body["errors"]} == {"scan_mode", "enroll_monitoring"}
    assert_problem(scan_api.post(SCANS, json={}, headers=bearer(key)), 422, "validation_error")
    assert_problem(
        scan_api.post(
            SCANS, content=b"{not json", headers={**bearer(key), "content-type": "application/json"}
        ),
        422,
        "validation_error",
    )
    huge = {"target_url": "https://example.com/" + "a" * 9000}
    assert_problem(scan_api.post(SCANS, json=huge, headers=bearer(key)), 413, "payload_too_large")


# --- read ----------------------------------------------------------------------------------------


def test_status_shows_progress_path_runs_and_retry_after_while_running(scan_api, workspace_factory):
    _, key = workspace_factory("enterprise")
    scan_id = post_scan(scan_api, key, "https://example.com/").json()["scan_job_id"]

    queued = scan_api.get(f"{SCANS}/{scan_id}", headers=bearer(key))
    assert queued.status_code == 200 and queued.headers["retry-after"] == "5"
    assert queued.json()["status"] == "queued" and queued.json()["path_runs"] == []
    assert queued.json()["progress"] == {
        "path_runs_total": 0,
        "path_runs_completed": 0,
        "path_runs_failed": 0,
        "path_runs_cancelled": 0,
        "percent": 0,
    }

    scans.mark_running(scan_id)
    runs = scans.put_path_runs(
        scan_id,
        [
            {"path": "/", "profile": "browser"},
            {"path": "/login", "profile": "ai_agent"},
            {"path": "/robots.txt", "profile": "ai_crawler", "kind": "policy"},
            {"path": "/search", "profile": "http_client"},
        ],
    )
    scans.update_path_run(
        scan_id,
        runs[0].path_run_id,
        status="completed",
        outcome="challenged",
        http_status=403,
        duration_ms=120,
    )
    scans.update_path_run(
        scan_id,
        runs[0].path_run_id,
        status="completed",
        outcome="challenged",
        http_status=403,
        duration_ms=120,
    )  # a retried Lambda: counted once
    scans.update_path_run(scan_id, runs[1].path_run_id, status="running")

    running = scan_api.get(f"{SCANS}/{scan_id}", headers=bearer(key))
    body = running.json()
    assert running.headers["retry-after"] == "5" and body["status"] == "running" and body["started_at"]
    assert body["progress"] == {
        "path_runs_total": 4,
        "path_runs_completed": 1,
        "path_runs_failed": 0,
        "path_runs_cancelled": 0,
        "percent": 25,
    }
    assert [r["path"] for r in body["path_runs"]] == ["/", "/login", "/robots.txt", "/search"]
    assert body["path_runs"][0] == {
        "path_run_id": runs[0].path_run_id,
        "path": "/",
        "profile": "browser",
        "status": "completed",
        "outcome": "challenged",
        "http_status": 403,
        "duration_ms": 120,
        "error": None,
    }
    assert [r["status"] for r in body["path_runs"]] == ["completed", "running", "pending", "pending"]


def test_completed_scan_serves_findings_and_report(scan_api, workspace_factory):
    _, key = workspace_factory("enterprise")
    scan_id = post_scan(scan_api, key, "https://example.com/").json()["scan_job_id"]
    report = complete_scan(scan_id)

    status = scan_api.get(f"{SCANS}/{scan_id}", headers=bearer(key))
    assert "retry-after" not in status.headers
    body = status.json()
    assert body["status"] == "completed" and body["completed_at"] and body["progress"]["percent"] == 100
    assert body["path_runs"][1]["error"] == {"code": "timeout", "message": "The path did not answer in time."}

    findings = scan_api.get(f"{SCANS}/{scan_id}/findings", headers=bearer(key))
    assert findings.status_code == 200
    assert findings.json() == {
        "scan_job_id": scan_id,
        "ruleset_version": "2026.11.1",
        "findings": report["findings"],
    }
    full = scan_api.get(f"{SCANS}/{scan_id}/report", headers=bearer(key))
    assert full.status_code == 200 and full.json() == report


def test_findings_and_report_are_409_until_completed_and_when_failed(scan_api, workspace_factory):
    _, key = workspace_factory("enterprise")
    scan_id = post_scan(scan_api, key, "https://example.com/").json()["scan_job_id"]
    for suffix in ("findings", "report"):
        response = scan_api.get(f"{SCANS}/{scan_id}/{suffix}", headers=bearer(key))
        assert_problem(response, 409, "scan_not_ready")
        assert response.headers["retry-after"] == "5"
    scans.mark_running(scan_id)
    assert_problem(scan_api.get(f"{SCANS}/{scan_id}/findings", headers=bearer(key)), 409, "scan_not_ready")

    assert scans.mark_failed(scan_id, "target_unreachable", "The target did not answer.")
    for suffix in ("findings", "report"):
        body = assert_problem(
            scan_api.get(f"{SCANS}/{scan_id}/{suffix}", headers=bearer(key)), 409, "scan_failed"
        )
        assert "target_unreachable" in body["detail"]
    status = scan_api.get(f"{SCANS}/{scan_id}", headers=bearer(key)).json()
    assert status["error"] == {"code": "target_unreachable", "message": "The target did not answer."}


def test_an_overdue_scan_reads_as_failed_scan_timeout(scan_api, workspace_factory, monkeypatch):
    from botscope.config import reset_settings

    ws, key = workspace_factory("enterprise")
    monkeypatch.setenv("BOTSCOPE_SCAN_TIMEOUT_SECONDS", "1")
    reset_settings()
    scan_id = post_scan(scan_api, key, "https://example.com/").json()["scan_job_id"]
    # Move the deadline into the past instead of sleeping.
    from botscope.store.table import table

    table().update_item(
        Key={"pk": f"SCAN#{scan_id}", "sk": "META"},
        UpdateExpression="SET deadline_at = :d",
        ExpressionAttributeValues={":d": "2020-01-01T00:00:00.000Z"},
    )
    body = scan_api.get(f"{SCANS}/{scan_id}", headers=bearer(key)).json()
    assert body["status"] == "failed" and body["error"]["code"] == "scan_timeout"
    assert scans.get_active(ws["workspace_id"], "https://example.com/") is None
    # The URL can be scanned again at once.
    assert post_scan(scan_api, key, "https://example.com/").status_code == 202


def test_another_workspaces_scan_is_404_on_every_route(scan_api, workspace_factory):
    _, key_a = workspace_factory("enterprise")
    _, key_b = workspace_factory("enterprise")
    scan_id = post_scan(scan_api, key_a, "https://example.com/").json()["scan_job_id"]
    complete_scan(scan_id)
    for suffix in ("", "/findings", "/report"):
        assert scan_api.get(f"{SCANS}/{scan_id}{suffix}", headers=bearer(key_a)).status_code == 200
        theirs = scan_api.get(f"{SCANS}/{scan_id}{suffix}", headers=bearer(key_b))
        missing = scan_api.get(f"{SCANS}/scan_00000000000000000000000000{suffix}", headers=bearer(key_b))
        assert_problem(theirs, 404, "not_found")
        assert theirs.json()["detail"] == missing.json()["detail"]
        assert_problem(scan_api.get(f"{SCANS}/../etc{suffix}", headers=bearer(key_b)), 404, "not_found")
    assert scan_api.get(SCANS, headers=bearer(key_b)).json() == {"data": [], "has_more": False}
    # Paging from another workspace's id reveals nothing either.
    assert scan_api.get(SCANS, params={"starting_after": scan_id}, headers=bearer(key_b)).json()["data"] == []


def test_listing_is_newest_first_with_cursor_pagination(scan_api, workspace_factory):
    _, key = workspace_factory("enterprise")
    created = [post_scan(scan_api, key, f"https://p{n}.example.com/").json()["scan_job_id"] for n in range(5)]
    newest_first = list(reversed(created))

    page1 = scan_api.get(SCANS, params={"limit": 2}, headers=bearer(key)).json()
    assert [s["scan_job_id"] for s in page1["data"]] == newest_first[:2] and page1["has_more"] is True
    page2 = scan_api.get(
        SCANS, params={"limit": 2, "starting_after": page1["data"][-1]["scan_job_id"]}, headers=bearer(key)
    ).json()
    assert [s["scan_job_id"] for s in page2["data"]] == newest_first[2:4] and page2["has_more"] is True
    page3 = scan_api.get(
        SCANS, params={"limit": 2, "starting_after": page2["data"][-1]["scan_job_id"]}, headers=bearer(key)
    ).json()
    assert [s["scan_job_id"] for s in page3["data"]] == newest_first[4:] and page3["has_more"] is False
    exact = scan_api.get(SCANS, params={"limit": 5}, headers=bearer(key)).json()
    assert len(exact["data"]) == 5 and exact["has_more"] is False
    item = page1["data"][0]
    assert set(item) >= {
        "scan_job_id",
        "status",
        "target_url",
        "scan_mode",
        "created_at",
        "progress",
        "links",
    }

    for params in ({"limit": 0}, {"limit": 101}, {"starting_after": "nope"}):
        body = assert_problem(
            scan_api.get(SCANS, params=params, headers=bearer(key)), 422, "validation_error"
        )
        assert body["errors"][0]["field"] in ("limit", "starting_after")


def test_openapi_documents_the_scan_routes(scan_api):
    doc = scan_api.get("/api/v1/openapi.json").json()
    post = doc["paths"]["/api/v1/scans"]["post"]
    assert {"200", "202", "401", "403", "409", "422", "503"} <= set(post["responses"])
    assert "Idempotency-Key" in [p["name"] for p in post["parameters"]]
    schema = doc["components"]["schemas"]["CreateScanRequest"]
    assert schema["additionalProperties"] is False
    for path in (
        "/api/v1/scans/{scan_job_id}",
        "/api/v1/scans/{scan_job_id}/findings",
        "/api/v1/scans/{scan_job_id}/report",
    ):
        assert {"200", "401", "404"} <= set(doc["paths"][path]["get"]["responses"])


def test_a_new_request_settles_an_overdue_running_scan_instead_of_reusing_it(scan_api, workspace_factory):
    from botscope.store.table import table

    _, key = workspace_factory("enterprise")
    stale = post_scan(scan_api, key, "https://example.com/").json()["scan_job_id"]
    scans.mark_running(stale)
    table().update_item(
        Key={"pk": f"SCAN#{stale}", "sk": "META"},
        UpdateExpression="SET deadline_at = :d",
        ExpressionAttributeValues={":d": "2020-01-01T00:00:00.000Z"},
    )
    fresh = post_scan(scan_api, key, "https://example.com/")
    assert fresh.status_code == 202 and fresh.json()["scan_job_id"] != stale
    assert scans.get_scan(stale).error.code == "scan_timeout"


def test_concurrent_scan_limit_refuses_new_scans_but_still_returns_running_ones(
    scan_api, workspace_factory, monkeypatch, state_machine
):
    from botscope.config import reset_settings

    ws, key = workspace_factory("growth")
    monkeypatch.setenv("BOTSCOPE_MAX_CONCURRENT_SCANS", "2")
    reset_settings()
    first = post_scan(scan_api, key, "https://a.example.com/", enroll_monitoring=True)
    assert post_scan(scan_api, key, "https://b.example.com/", enroll_monitoring=True).status_code == 202

    refused = post_scan(scan_api, key, "https://c.example.com/", enroll_monitoring=True)
    assert_problem(refused, 429, "rate_limited")
    assert int(refused.headers["retry-after"]) > 0
    assert monitoring.slots(ws["workspace_id"]).used == 2  # the refusal claimed no slot
    assert len(executions(state_machine)) == 2

    # Returning an already running scan is not a new scan.
    again = post_scan(scan_api, key, "https://a.example.com/")
    assert again.status_code == 200 and again.json()["scan_job_id"] == first.json()["scan_job_id"]

    complete_scan(first.json()["scan_job_id"])
    assert post_scan(scan_api, key, "https://c.example.com/", enroll_monitoring=True).status_code == 202
