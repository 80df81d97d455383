"""``/api/v1/scans``: start a scan, poll it, read its findings and report, list scans, cancel one.

Thin: parse, call ``botscope.service.scans``, set status and headers. Every rule lives in the
service layer, which the MCP tools call too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from botscope.api.deps import body_size_limit, get_principal
from botscope.api.problems import problem_docs
from botscope.auth.principal import Principal
from botscope.scanner.model import Layer
from botscope.scanner.vocabulary import FindingStatus, Outcome, ScanMode, Severity
from botscope.service import scans as service

router = APIRouter(tags=["scans"])
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]

MAX_BODY_BYTES = 8 * 1024  # a scan request is a URL and two flags


limit_body_size = body_size_limit(MAX_BODY_BYTES)


# --- models ------------------------------------------------------------------------------------


class CreateScanRequest(BaseModel):
    """Unknown fields are rejected (422 ``validation_error``) so a typo such as
    ``enroll_monitor`` is not silently ignored."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"target_url": "https://example.com", "scan_mode": "full", "enroll_monitoring": True}
            ]
        },
    )

    target_url: str = Field(
        min_length=1, max_length=2048, description="http(s) URL of a public website; normalized before use."
    )
    scan_mode: ScanMode = Field(default="full", description="quick probes fewer paths.")
    enroll_monitoring: StrictBool = Field(
        default=False, description="Put the URL under monitoring (claims a slot on the growth plan)."
    )
    render: StrictBool | None = Field(
        default=None,
        description="Also load the target (full: and each critical path) in a real headless "
        "browser through BotScope's egress guard. Default: on for full, off for quick.",
    )


class Links(BaseModel):
    self: str
    findings: str
    report: str


class MonitoringRef(BaseModel):
    enrolled: bool
    monitored_url_id: str


class ErrorInfo(BaseModel):
    code: str
    message: str


class ScanCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scan_job_id": "scan_01jd3k6z2m0000000000000000",
                    "status": "queued",
                    "target_url": "https://example.com/",
                    "scan_mode": "full",
                    "monitoring": {"enrolled": True, "monitored_url_id": "mon_01jd3k6z2m0000000000000000"},
                    "created_at": "2026-11-28T04:30:00.000Z",
                    "links": {
                        "self": "/api/v1/scans/scan_01jd3k6z2m0000000000000000",
                        "findings": "/api/v1/scans/scan_01jd3k6z2m0000000000000000/findings",
                        "report": "/api/v1/scans/scan_01jd3k6z2m0000000000000000/report",
                    },
                }
            ]
        }
    )

    scan_job_id: str
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    target_url: str = Field(description="The normalized URL that is scanned.")
    scan_mode: ScanMode
    monitoring: MonitoringRef | None
    created_at: str
    links: Links


class Progress(BaseModel):
    path_runs_total: int
    path_runs_completed: int
    path_runs_failed: int
    path_runs_cancelled: int = 0
    percent: int = Field(ge=0, le=100)


class PathRun(BaseModel):
    path_run_id: str
    path: str | None
    profile: str | None
    status: Literal["pending", "running", "completed", "failed", "cancelled"]
    outcome: Outcome | None
    http_status: int | None
    duration_ms: int | None
    error: ErrorInfo | None


class ScanSummary(BaseModel):
    scan_job_id: str
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    target_url: str
    scan_mode: ScanMode
    created_at: str
    started_at: str | None
    completed_at: str | None
    progress: Progress
    error: ErrorInfo | None = Field(description="Why the scan failed (e.g. scan_timeout, start_failed).")
    monitoring: MonitoringRef | None
    links: Links


class ScanStatus(ScanSummary):
    path_runs: list[PathRun] = Field(description="A failed path run does not fail the scan.")


class ScanList(BaseModel):
    data: list[ScanSummary]
    has_more: bool


class Evidence(BaseModel):
    signal: str
    name: str


class Finding(BaseModel):
    model_config = ConfigDict(extra="allow")

    finding_id: str
    fingerprint: str = Field(
        description="Stable across scans for the same finding (drives change detection)."
    )
    category: str
    measure: str
    status: FindingStatus
    severity: Severity
    confidence: float = Field(ge=0.0, le=1.0)
    title: str
    summary: str
    vendor: str | None = None
    layer: Layer
    paths: list[str] = []
    profiles: list[str] = []
    evidence: list[Evidence] = []
    recommendation: str | None = None


class Findings(BaseModel):
    scan_job_id: str
    ruleset_version: str | None
    findings: list[Finding]


class Report(BaseModel):
    """The assembled public report (docs/report.md)."""

    model_config = ConfigDict(extra="allow")


_LOCATION = {"Location": {"description": "/api/v1/scans/{scan_job_id}", "schema": {"type": "string"}}}
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored response of an earlier "
        "request with the same Idempotency-Key.",
        "schema": {"type": "string"},
    }
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Polling hint in seconds while the scan is queued or running.",
        "schema": {"type": "integer"},
    }
}
_AUTH = {"401": "unauthorized: missing, malformed, unknown or revoked credential (WWW-Authenticate: Bearer)"}
_NOT_FOUND = {"404": "not_found: no such scan in your workspace (another workspace's scan is not revealed)"}
_NOT_READY = {
    "409": "scan_not_ready (queued/running, with Retry-After), scan_failed, or scan_cancelled "
    "(cancelled before anything was probed; a later cancel has a partial report)"
}


# --- routes ------------------------------------------------------------------------------------


@router.post(
    "/scans",
    status_code=202,
    response_model=ScanCreated,
    summary="Start a scan",
    dependencies=[Depends(limit_body_size)],
    description=(
        "Starts a scan of `target_url` and returns **202 Accepted** with `Location` pointing at the scan.\n\n"
        "If a scan of the same URL by this workspace is still queued or running, that scan is returned "
        "instead with **200 OK** (and the same `Location`); no second scan starts.\n\n"
        "`Idempotency-Key` (≤255 printable ASCII): a retry with the same key and body within 24 h replays "
        "the first response (header `Idempotent-Replayed: true`); the same key with another body → 422 "
        "`idempotency_mismatch`; while the first request is still running → 409 `idempotency_in_flight`.\n\n"
        "Unknown body fields are rejected with 422 `validation_error`. Body limit 8 KiB (413)."
    ),
    response_description="Scan accepted and queued.",
    responses={
        202: {"headers": {**_LOCATION, **_REPLAYED}},
        200: {
            "model": ScanCreated,
            "description": "A running scan of this URL was returned instead.",
            "headers": {**_LOCATION, **_REPLAYED},
        },
        **problem_docs(
            **_AUTH,
            **{
                "403": "plan_required, url_not_monitored (growth: send enroll_monitoring) or csrf",
                "409": "monitoring_slots_exhausted or idempotency_in_flight",
                "413": "payload_too_large",
                "422": "invalid_target, target_not_public, validation_error (errors[]) or "
                "idempotency_mismatch",
                "429": "rate_limited (Retry-After)",
                "503": "scan_start_failed: nothing was kept; retry (Retry-After)",
            },
        ),
    },
)
def create_scan(
    body: CreateScanRequest,
    response: Response,
    principal: CurrentPrincipal,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key", max_length=255),
) -> dict[str, Any]:
    outcome = service.start_scan(
        principal,
        body.target_url,
        body.scan_mode,
        body.enroll_monitoring,
        idempotency_key=idempotency_key,
        render=body.render,
    )
    response.status_code = outcome.status_code
    response.headers["Location"] = outcome.location
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return outcome.body


@router.get(
    "/scans",
    response_model=ScanList,
    summary="List the workspace's scans, newest first",
    responses=problem_docs(**_AUTH, **{"422": "validation_error (limit, starting_after)"}),
)
def list_scans(
    principal: CurrentPrincipal,
    limit: int = Query(default=service.DEFAULT_PAGE_SIZE, ge=1, le=service.MAX_PAGE_SIZE),
    starting_after: str | None = Query(default=None, description="Last scan_job_id of the previous page."),
) -> dict[str, Any]:
    return service.list_scans(principal, limit, starting_after)


@router.get(
    "/scans/{scan_job_id}",
    response_model=ScanStatus,
    summary="Scan status and path-run progress",
    description="While the scan is queued or running the response carries `Retry-After` (seconds) as a "
    "polling hint.",
    responses={200: {"headers": _RETRY_AFTER}, **problem_docs(**_AUTH, **_NOT_FOUND)},
)
def get_scan(scan_job_id: str, response: Response, principal: CurrentPrincipal) -> dict[str, Any]:
    status = service.get_scan_status(principal, scan_job_id)
    hint = service.poll_hint_seconds(status["status"])
    if hint is not None:
        response.headers["Retry-After"] = str(hint)
    return status


# Findings and the report are produced by the scanner: documented here, passed through unchanged
# (response_model=None) so a field the scanner adds later is not a 500.
@router.get(
    "/scans/{scan_job_id}/findings",
    response_model=None,
    summary="Public-safe ABAAM findings",
    responses={
        200: {"model": Findings, "description": "Findings of a completed scan."},
        **problem_docs(**_AUTH, **_NOT_FOUND, **_NOT_READY),
    },
)
def get_findings(scan_job_id: str, principal: CurrentPrincipal) -> dict[str, Any]:
    return service.get_findings(principal, scan_job_id)


@router.get(
    "/scans/{scan_job_id}/report",
    response_model=None,
    summary="The assembled public report",
    responses={
        200: {"model": Report, "description": "The report of a completed scan."},
        **problem_docs(**_AUTH, **_NOT_FOUND, **_NOT_READY),
    },
)
def get_report(scan_job_id: str, principal: CurrentPrincipal) -> dict[str, Any]:
    return service.get_report(principal, scan_job_id)


@router.post(
    "/scans/{scan_job_id}/cancel",
    response_model=ScanStatus,
    status_code=202,
    summary="Cancel a scan",
    description=(
        "Cancels a queued or running scan and answers **202 Accepted** with the scan, now `cancelled`. "
        "No probe is sent to the target after the cancel is recorded; path runs still pending end "
        '`cancelled`; the report of what was observed so far is kept with `"complete": false`; the '
        "`scan.cancelled` webhook event is sent; the scan no longer counts against the concurrent-scan "
        "limit.\n\nIdempotent: a scan that has already ended (completed, failed or cancelled) is "
        "returned unchanged with **200 OK**."
    ),
    responses={
        200: {"model": ScanStatus, "description": "The scan had already ended; nothing changed."},
        **problem_docs(**_AUTH, **_NOT_FOUND),
    },
)
def cancel_scan(scan_job_id: str, response: Response, principal: CurrentPrincipal) -> dict[str, Any]:
    outcome = service.cancel_scan(principal, scan_job_id)
    response.status_code = outcome.status_code
    return outcome.body
