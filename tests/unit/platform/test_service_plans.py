"""Plan rules of the service layer (docs/api.md "Authentication and plans"). No AWS, no network."""

from __future__ import annotations

import pytest
from botscope.auth.principal import Principal
from botscope.errors import PlanRequired
from botscope.service import plans
from botscope.store.workspaces import Workspace

HOURLY = Workspace(
    workspace_id="ws_x",
    name="hourly",
    plan="enterprise",
    status="active",
    monitor_slots_limit=None,
    monitor_cadence_seconds=3600,
    created_at="2026-01-01T00:00:00Z",
)


def principal(plan: str, status: str = "active") -> Principal:
    return Principal(
        workspace_id="ws_x",
        plan=plan,
        workspace_status=status,
        actor_type="api_key",  # type: ignore[arg-type]
        actor_id="key_x",
    )


@pytest.mark.parametrize("plan", ["growth", "enterprise"])
def test_paid_plans_in_good_standing_may_scan(plan):
    plans.require_scanning(principal(plan))


@pytest.mark.parametrize(
    ("plan", "status"),
    [("starter", "active"), ("growth", "past_due"), ("growth", "cancelled"), ("enterprise", "past_due")],
)
def test_starter_and_workspaces_not_in_good_standing_need_a_plan(plan, status):
    with pytest.raises(PlanRequired) as caught:
        plans.require_scanning(principal(plan, status))
    assert caught.value.code == "plan_required" and caught.value.status == 403


def test_only_growth_is_limited_to_monitored_urls():
    assert plans.scans_require_monitoring(principal("growth")) is True
    assert plans.scans_require_monitoring(principal("enterprise")) is False


def test_cadence_comes_from_the_workspace_unless_the_local_stack_overrides_it(monkeypatch):
    from botscope.config import reset_settings

    monkeypatch.delenv("BOTSCOPE_MONITOR_INTERVAL_SECONDS", raising=False)
    reset_settings()
    assert plans.monitoring_cadence_seconds(HOURLY) == 3600
    assert plans.monitoring_cadence_seconds(None) == 86400
    monkeypatch.setenv("BOTSCOPE_MONITOR_INTERVAL_SECONDS", "30")
    reset_settings()
    try:
        assert plans.monitoring_cadence_seconds(HOURLY) == 30
    finally:
        monkeypatch.delenv("BOTSCOPE_MONITOR_INTERVAL_SECONDS")
        reset_settings()
