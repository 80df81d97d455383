"""``/api/v1/monitoring``: the workspace's monitored URLs (slots, last and next scan, a findings
summary), one URL with its schedule and change history, pausing it or changing its scan mode,
rescanning it now, and releasing it (frees its slot; the URL is no longer rescanned)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from botscope.api.deps import body_size_limit, get_principal
from botscope.api.problems import problem_docs
from botscope.auth.principal import Principal
from botscope.scanner.vocabulary import ScanMode
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
        default=None,
        description="posture, score, measures_present, vendors, findings_by_severity, "
        "pending_changes, last_change_at; null until the first scan completes.",
    )


class MonitoringList(BaseModel):
    slots: Slots
    data: list[MonitoredUrl]


class ScanLinks(BaseModel):
    self: str
    findings: str
    report: str


class ScanRef(BaseModel):
    scan_job_id: str
    links: ScanLinks


class LastScan(ScanRef):
    completed_at: str | None = None


class Schedule(BaseModel):
    cadence_seconds: int | None
    paused: bool
    next_scan_at: str | None = Field(description="null while paused.")


class ResourceLinks(BaseModel):
    self: str
    rescan: str


class ChangePage(BaseModel):
    data: list[dict[str, Any]] = Field(
        description="Newest first. Each entry is the `data` of one "
        "`monitoring.findings_changed` event, plus `detected_at`."
    )
    has_more: bool


class MonitoredUrlResource(MonitoredUrl):
    paused: bool
    scan_mode: ScanMode
    schedule: Schedule
    last_scan: LastScan | None
    running_scan: ScanRef | None
    links: ResourceLinks


class MonitoredUrlDetail(MonitoredUrlResource):
    changes: ChangePage


class MonitoringUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"paused": True}]})

    paused: StrictBool | None = Field(
        default=None, description="true: not rescanned until set back to false."
    )
    scan_mode: ScanMode | None = Field(default=None, description="Mode of this URL's rescans.")


class RescanCreated(BaseModel):
    scan_job_id: str
    status: str
    target_url: str
    scan_mode: ScanMode
    monitored_url_id: str
    created_at: str
    links: ScanLinks


_NOT_FOUND = {"404": "not_found: no such monitored URL in your workspace"}
_PLAN = {"403": "plan_required (starter) or csrf"}


@router.get("/monitoring", response_model=MonitoringList, summary="List monitored URLs and slot usage")
def list_monitoring(principal: CurrentPrincipal) -> dict[str, Any]:
    return monitoring.list_monitoring(principal)


@router.delete(
    "/monitoring/{monitored_url_id}",
    status_code=204,
    response_class=Response,
    summary="Stop monitoring a URL and free its slot",
)
def release_monitoring(monitored_url_id: str, principal: CurrentPrincipal) -> Response:
    monitoring.release(principal, monitored_url_id)
    return Response(status_code=204)


@router.get(
    "/monitoring/{monitored_url_id}",
    response_model=MonitoredUrlDetail,
    summary="A monitored URL: schedule, last and running scan, change history",
    description="`changes` lists the URL's detected changes newest first, the same entries as the "
    "`monitoring.findings_changed` events; page with `limit` and `starting_after` (the "
    "`scan_job_id` of the last entry of the previous page).",
    responses=problem_docs(**_PLAN, **_NOT_FOUND, **{"422": "validation_error (limit, starting_after)"}),
)
def get_monitored_url(
    monitored_url_id: str,
    principal: CurrentPrincipal,
    limit: int = Query(default=monitoring.DEFAULT_CHANGES_PAGE, ge=1, le=monitoring.MAX_CHANGES_PAGE),
    starting_after: str | None = Query(default=None, max_length=64),
) -> dict[str, Any]:
    return monitoring.get_monitored_url(principal, monitored_url_id, limit, starting_after)


@router.patch(
    "/monitoring/{monitored_url_id}",
    response_model=MonitoredUrlResource,
    summary="Pause or resume a monitored URL, or change its scan mode",
    dependencies=[Depends(body_size_limit(1024))],
    description="`paused: true` takes the URL off the schedule (it keeps its slot); `false` puts it back, "
    "due at its next scan time or now. `scan_mode` is the mode of its rescans.",
    responses=problem_docs(
        **_PLAN, **_NOT_FOUND, **{"413": "payload_too_large", "415": "unsupported_media_type"}
    ),
)
def update_monitored_url(
    monitored_url_id: str, principal: CurrentPrincipal, body: MonitoringUpdate | None = None
) -> dict[str, Any]:
    body = body or MonitoringUpdate()  # no body: nothing to change, the URL is returned as it is
    return monitoring.update(principal, monitored_url_id, paused=body.paused, scan_mode=body.scan_mode)


@router.post(
    "/monitoring/{monitored_url_id}/rescan",
    response_model=RescanCreated,
    status_code=202,
    summary="Rescan a monitored URL now",
    description="Starts a scan of the URL in its scan mode and answers **202** with `Location` pointing at "
    "the new scan. 409 `scan_in_progress` while a scan of it runs (`Location`: that scan); "
    "429 `rate_limited` within a minute of the previous manual rescan (`Retry-After`).",
    responses={
        202: {
            "headers": {
                "Location": {"description": "/api/v1/scans/{scan_job_id}", "schema": {"type": "string"}}
            }
        },
        **problem_docs(
            **_PLAN,
            **_NOT_FOUND,
            **{
                "409": "scan_in_progress",
                "429": "rate_limited: one manual rescan per URL per minute, or the concurrent-scan "
                "limit (Retry-After)",
                "422": "target_not_public or target_unresolvable: the URL no longer passes the guard",
                "503": "scan_start_failed (Retry-After)",
            },
        ),
    },
)
def rescan_monitored_url(
    monitored_url_id: str, response: Response, principal: CurrentPrincipal
) -> dict[str, Any]:
    outcome = monitoring.rescan(principal, monitored_url_id)
    response.headers["Location"] = outcome.location
    body = outcome.body
    return {
        "scan_job_id": body["scan_job_id"],
        "status": body["status"],
        "target_url": body["target_url"],
        "scan_mode": body["scan_mode"],
        "monitored_url_id": monitored_url_id,
        "created_at": body["created_at"],
        "links": body["links"],
    }
