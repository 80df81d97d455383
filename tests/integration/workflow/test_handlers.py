"""The stage handlers with their sample events (events/<function>.json), as Lambda would call them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botscope.aws.template import REPO_ROOT
from botscope.local.seam import LambdaContext, load_handler


def _event(name: str) -> dict[str, Any]:
    return json.loads((REPO_ROOT / "events" / f"{name}.json").read_text())


def test_mark_failed_handler_with_its_sample_event(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from botscope.store import scans, workspaces
    from botscope.webhooks import fanout

    published: list[str] = []
    monkeypatch.setattr(
        fanout, "publish_event", lambda ws, kind, data, **kw: published.append(kind) or "evt_x"
    )
    event = _event("scan_mark_failed")
    workspaces.create_workspace("handler", "enterprise", workspace_id=event["workspace_id"])
    scans.create_scan(
        event["workspace_id"],
        "https://example.com/",
        "quick",
        deadline_seconds=900,
        scan_job_id=event["scan_job_id"],
    )
    result = load_handler("scan_mark_failed")(event, LambdaContext(function_name="ScanMarkFailedFunction"))
    assert result["status"] == "failed" and result["error"]["code"] == "stage_timeout"
    assert scans.get_scan(event["scan_job_id"]).error.code == "stage_timeout"
    assert published == ["scan.failed"]


@pytest.mark.parametrize("name", ["scan_prepare", "scan_analyze"])
def test_stage_handlers_refuse_an_unknown_scan(aws: Any, name: str) -> None:
    from botscope.workflow.stages import ScanNotActive

    with pytest.raises(ScanNotActive):
        load_handler(name)(_event(name), LambdaContext(function_name=name))


def test_probe_handler_refuses_an_unknown_path_run(aws: Any) -> None:
    from botscope.workflow.stages import ScanNotActive

    with pytest.raises(ScanNotActive):
        load_handler("scan_probe")(_event("scan_probe"), LambdaContext(function_name="scan_probe"))
