"""Plan rules (docs/api.md "Authentication and plans"), in one place for the API, MCP and scheduler.

- starter: no API scans, no monitoring → ``plan_required``.
- growth: a fixed number of monitored URL slots; may scan only URLs under active monitoring, or a
  new URL with ``enroll_monitoring`` while a slot is open.
- enterprise: no URL cap.
- A cancelled or past-due workspace is treated like starter.
"""

from __future__ import annotations

from botscope.auth.principal import Principal
from botscope.errors import PlanRequired
from botscope.store.workspaces import Workspace

SCANNING_PLANS = frozenset({"growth", "enterprise"})
# Plans that may scan only URLs under monitoring (each monitored URL takes a slot).
MONITORED_ONLY_PLANS = frozenset({"growth"})


def require_scanning(principal: Principal) -> None:
    if not principal.in_good_standing:
        raise PlanRequired(
            f"This workspace is {principal.workspace_status}; scans and monitoring need an "
            "active growth or enterprise plan."
        )
    if principal.plan not in SCANNING_PLANS:
        raise PlanRequired("API scans and monitoring need a growth or enterprise plan.")


def scans_require_monitoring(principal: Principal) -> bool:
    """True when the plan may only scan monitored URLs (growth)."""
    return principal.plan in MONITORED_ONLY_PLANS


def monitoring_cadence_seconds(workspace: Workspace | None, default: int = 86400) -> int:
    """The rescan cadence of a workspace; the local stack may shorten it for demos."""
    from botscope.config import get_settings

    override = get_settings().monitor_interval_seconds
    if override > 0:
        return override
    return (workspace.monitor_cadence_seconds if workspace else 0) or default
