"""The scan service's pure parts: representations, progress, request hashing, input checks and the
SSRF guard's mapping to API errors. No AWS, no network (every target here is an IP literal or
invalid, so nothing is resolved)."""

from __future__ import annotations

import pytest
from botscope.errors import InvalidTarget, TargetNotPublic, ValidationFailed
from botscope.service import scans as service
from botscope.store.scans import PathRun, Scan


@pytest.fixture(autouse=True)
def _fresh_settings():
    from botscope.config import reset_settings

    reset_settings()
    yield
    reset_settings()


SCAN = Scan(
    **{
        "scan_job_id": "scan_01m8g6ykxknfmjb3gegvxbx82x",
        "workspace_id": "ws_x",
        "status": "running",
        "target_url": "https://example.com/",
        "scan_mode": "full",
        "created_at": "2026-11-28T04:30:00.000Z",
        "started_at": "2026-11-28T04:30:01.000Z",
        "completed_at": None,
        "error": None,
        "monitored_url_id": None,
        "path_runs_total": 3,
        "path_runs_completed": 1,
        "path_runs_failed": 1,
        "deadline_at": "2999-01-01T00:00:00.000Z",
    }
)


def test_progress_counts_finished_runs_and_rounds_down():
    assert service.summary_view(SCAN)["progress"] == {
        "path_runs_total": 3,
        "path_runs_completed": 1,
        "path_runs_failed": 1,
        "path_runs_cancelled": 0,
        "percent": 66,
    }
    assert (
        service.summary_view(
            SCAN.model_copy(update={"path_runs_total": 0, "path_runs_completed": 0, "path_runs_failed": 0})
        )["progress"]["percent"]
        == 0
    )
    assert service.summary_view(SCAN.model_copy(update={"status": "completed"}))["progress"]["percent"] == 100


def test_status_view_has_exactly_the_documented_path_run_fields():
    run = PathRun(
        scan_job_id=SCAN.scan_job_id,
        path_run_id="run_1",
        path="/login",
        profile="ai_agent",
        status="failed",
        outcome="error",
        http_status=None,
        duration_ms=12,
        error={"code": "timeout", "message": "slow", "trace": "x"},
        observation_key="observations/scan/run_1.json",
        seq=0,
        kind="page",
    )
    view = service.status_view(SCAN, [run])
    assert view["path_runs"] == [
        {
            "path_run_id": "run_1",
            "path": "/login",
            "profile": "ai_agent",
            "status": "failed",
            "outcome": "error",
            "http_status": None,
            "duration_ms": 12,
            "error": {"code": "timeout", "message": "slow"},
        }
    ]
    assert "workspace_id" not in view and "deadline_at" not in view
    assert view["links"]["findings"] == f"/api/v1/scans/{SCAN.scan_job_id}/findings"


def test_created_view_reports_monitoring_only_when_enrolled():
    assert service.created_view(SCAN)["monitoring"] is None
    assert service.created_view(SCAN, "mon_1")["monitoring"] == {
        "enrolled": True,
        "monitored_url_id": "mon_1",
    }
    assert set(service.created_view(SCAN)) == {
        "scan_job_id",
        "status",
        "target_url",
        "scan_mode",
        "monitoring",
        "created_at",
        "links",
    }


def test_poll_hint_only_while_in_progress():
    assert service.poll_hint_seconds("queued") == service.poll_hint_seconds("running") == 5
    assert service.poll_hint_seconds("completed") is None and service.poll_hint_seconds("failed") is None


def test_request_hash_is_stable_and_sensitive_to_every_field():
    base = service.request_hash("https://example.com", "full", False)
    assert base == service.request_hash("https://example.com", "full", False)
    assert (
        len(
            {
                base,
                service.request_hash("https://example.com/", "full", False),
                service.request_hash("https://example.com", "quick", False),
                service.request_hash("https://example.com", "full", True),
            }
        )
        == 4
    )


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "line\nbreak"])
def test_bad_idempotency_keys_are_rejected(key):
    with pytest.raises(ValidationFailed) as caught:
        service.validate_idempotency_key(key)
    assert caught.value.errors[0]["field"] == "Idempotency-Key"


def test_good_idempotency_keys_pass():
    assert service.validate_idempotency_key(None) is None
    assert (
        service.validate_idempotency_key("4f1c2a9e-7b3d-4c55-9a0e-2d8f6b1e3c71")
        == "4f1c2a9e-7b3d-4c55-9a0e-2d8f6b1e3c71"
    )


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("file:///etc/passwd", InvalidTarget),
        ("http://user@1.1.1.1/", InvalidTarget),
        ("http://1.1.1.1:0/", InvalidTarget),
        ("http://127.0.0.1/", TargetNotPublic),
        ("http://[::1]/", TargetNotPublic),
        ("http://169.254.169.254/", TargetNotPublic),
        ("http://2130706433/", TargetNotPublic),
        ("http://0/", TargetNotPublic),
    ],
)
def test_guard_maps_bad_targets_to_errors_on_target_url(url, error, monkeypatch):
    from botscope.config import reset_settings

    monkeypatch.delenv("BOTSCOPE_ALLOW_PRIVATE_TARGETS", raising=False)
    reset_settings()
    with pytest.raises(error) as caught:
        service.guard(url)
    assert caught.value.status == 422 and caught.value.errors == [
        {"field": "target_url", "message": caught.value.message}
    ]


def test_guard_returns_the_normalized_url_of_a_public_literal():
    assert service.guard("HTTP://1.1.1.1:80") == "http://1.1.1.1/"


def test_expire_leaves_scans_inside_their_deadline_alone():
    assert service.expire_if_overdue(SCAN) is SCAN
    assert (
        service.expire_if_overdue(
            SCAN.model_copy(update={"status": "completed", "deadline_at": "2000-01-01T00:00:00Z"})
        ).status
        == "completed"
    )
