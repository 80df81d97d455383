"""``/api/v1/monitoring``: the workspace's monitored URLs (slots, last and next scan, a findings
summary) and releasing one (frees its slot; the URL is no longer rescanned)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from botscope.api.deps import get_principal
from botscope.auth.principal import Principal
from botscope.service import monitoring

router = APIRouter(tags=["monitoring"])
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


class Slots(BaseModel):
    used: int
    limit: int | None = Field(description="null: no cap (enterprise).")


class MonitoredUrl(BaseModel):
    monitored_url_id: str
    target_url: str
    enrolled_at: str | None = None
    last_scan_job_id: str | None = None
    last_scanned_at: str | None = None
    next_scan_at: str | None = None
    cadence_seconds: int | None = None
    summary: dict[str, Any] | None = Field(
        default=None, description="posture, score, measures_present, vendors, findings_by_severity, "
                                  "pending_changes, last_change_at; null until the first scan completes.")


class MonitoringList(BaseModel):
    slots: Slots
    data: list[MonitoredUrl]


@router.get("/monitoring", response_model=MonitoringList, summary="List monitored URLs and slot usage")
def list_monitoring(principal: CurrentPrincipal) -> dict[str, Any]:
    return monitoring.list_monitoring(principal)


@router.delete("/monitoring/{monitored_url_id}", status_code=204, response_class=Response,
               summary="Stop monitoring a URL and free its slot")
def release_monitoring(monitored_url_id: str, principal: CurrentPrincipal) -> Response:
    monitoring.release(principal, monitored_url_id)
    return Response(status_code=204)
