"""MonitorSchedulerFunction, SampleReportsFunction and the monitoring API events, as Lambda calls them
with their sample events (events/*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botscope.aws.template import REPO_ROOT
from botscope.config import reset_settings
from botscope.local.seam import LambdaContext, load_handler
from botscope.store import monitoring as store

from tests.integration.monitoring.conftest import make_due, past


def _event(name: str) -> dict[str, Any]:
    return json.loads((REPO_ROOT / "events" / f"{name}.json").read_text())


def test_monitor_scheduler_handler_starts_due_scans(
    workspace_factory: Any, state_machine: str, executions: Any
) -> None:
    ws, _ = workspace_factory("enterprise")
    record, _ = store.enroll(ws["workspace_id"], "https://a.example/", cadence_seconds=3600)
    make_due(ws["workspace_id"], record.monitored_url_id, past())
    result = load_handler("monitor_scheduler")(
        _event("monitor_scheduler"), LambdaContext(function_name="MonitorSchedulerFunction")
    )
    assert result["started"] == 1 and len(executions()) == 1
    assert result["sample_reports"] == "not_started"


def test_sample_reports_handler_starts_the_day(
    state_machine: str, executions: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps([{"label": "One", "target_url": "https://one.example/"}]))
    monkeypatch.setenv("BOTSCOPE_SAMPLE_TARGETS_FILE", str(targets))
    reset_settings()
    handler = load_handler("sample_reports")
    result = handler(_event("sample_reports"), LambdaContext(function_name="SampleReportsFunction"))
    assert result["action"] == "started" and result["scans"] == 1 and len(executions()) == 1
    assert (
        handler(_event("sample_reports"), LambdaContext(function_name="SampleReportsFunction"))["action"]
        == "waiting"
    )


def test_api_events_reach_the_monitoring_routes(workspace_factory: Any) -> None:
    _, key = workspace_factory("growth")
    handler = load_handler("api")
    event = _event("api_monitoring_list")
    event["headers"]["authorization"] = f"Bearer {key}"
    response = handler(event, LambdaContext(function_name="ApiFunction"))
    assert response["statusCode"] == 200 and json.loads(response["body"])["slots"] == {"used": 0, "limit": 5}
    release = _event("api_monitoring_release")
    release["headers"]["authorization"] = f"Bearer {key}"
    assert handler(release, LambdaContext(function_name="ApiFunction"))["statusCode"] == 404
    samples = handler(
        _event("api_monitoring_sample_reports_list"), LambdaContext(function_name="ApiFunction")
    )
    assert samples["statusCode"] == 200 and json.loads(samples["body"]) == {"generated_on": None, "tabs": []}
    missing = handler(_event("api_monitoring_sample_report_get"), LambdaContext(function_name="ApiFunction"))
    assert missing["statusCode"] == 404
