"""Scans the system starts (monitoring rescans, sample reports) go through the same start path as
API requests (botscope.service.scans.launch_scan), including its undo: a workflow that does not
start leaves no queued scan and no active marker behind, and a retry with the same scan id starts
it cleanly (docs/monitoring.md, docs/architecture.md)."""

from __future__ import annotations

from typing import Any

import pytest
from botscope.errors import ServiceUnavailable
from botscope.service.monitoring import start_sample_scan, start_scheduled_scan
from botscope.store import monitoring as store
from botscope.store import scans
from botscope.store.monitoring import MonitoredUrl, ScheduleClaim
from botscope.store.workspaces import Workspace

URL = "https://rescan.example/"


def _claim(item: MonitoredUrl, scan_job_id: str) -> ScheduleClaim:
    """The scheduler's claim on the item's current due time, under ``scan_job_id``."""
    return ScheduleClaim(
        due_at=item.next_scan_at, scan_job_id=scan_job_id, attempts=1, claimed_at=item.next_scan_at
    )


def _broken_start(scan_job_id: str, workspace_id: str) -> str:
    raise RuntimeError("StartExecution throttled")


def test_a_failed_monitoring_start_is_undone_and_the_same_id_starts_on_retry(
    workspace_factory: Any, executions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botscope.workflow.starter as starter

    ws, _ = workspace_factory("enterprise")
    record, _ = store.enroll(ws["workspace_id"], URL, cadence_seconds=86400)
    item = record
    with monkeypatch.context() as patch:
        patch.setattr(starter, "start_scan_execution", _broken_start)
        with pytest.raises(ServiceUnavailable) as refused:
            start_scheduled_scan(item, _claim(item, "scan_retry_1"), Workspace.model_validate(ws))
    assert refused.value.code == "scan_start_failed"
    assert scans.get_scan("scan_retry_1") is None  # no queued scan left waiting
    assert scans.get_active(ws["workspace_id"], URL) is None  # the URL is not blocked
    assert executions() == []

    assert (
        start_scheduled_scan(item, _claim(item, "scan_retry_1"), Workspace.model_validate(ws))
        == "scan_retry_1"
    )
    assert executions() == ["scan_retry_1"]
    scan = scans.get_scan("scan_retry_1")
    assert scan is not None and scan.status == "queued" and scan.execution_arn
    assert scans.get_active(ws["workspace_id"], URL) == "scan_retry_1"
    # A second call with the same id (a duplicate scheduler run) starts nothing more.
    assert (
        start_scheduled_scan(item, _claim(item, "scan_retry_1"), Workspace.model_validate(ws))
        == "scan_retry_1"
        and len(executions()) == 1
    )


def test_a_failed_sample_scan_start_leaves_nothing_behind(
    executions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botscope.workflow.starter as starter
    from botscope.monitoring.sample_reports import SAMPLES_WORKSPACE_ID

    monkeypatch.setattr(starter, "start_scan_execution", _broken_start)
    with pytest.raises(ServiceUnavailable):
        start_sample_scan(URL, "scan_sample_1")
    assert scans.get_scan("scan_sample_1") is None
    assert scans.get_active(SAMPLES_WORKSPACE_ID, URL) is None


def test_a_monitoring_start_is_served_by_the_running_scan_of_the_url(
    workspace_factory: Any, executions: Any
) -> None:
    ws, _ = workspace_factory("enterprise")
    record, _ = store.enroll(ws["workspace_id"], URL, cadence_seconds=86400)
    item = record
    assert (
        start_scheduled_scan(item, _claim(item, "scan_first"), Workspace.model_validate(ws)) == "scan_first"
    )
    assert (
        start_scheduled_scan(item, _claim(item, "scan_second"), Workspace.model_validate(ws)) == "scan_first"
    )
    assert scans.get_scan("scan_second") is None and executions() == ["scan_first"]
