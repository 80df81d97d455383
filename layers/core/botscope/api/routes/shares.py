"""``/api/v1/scans/{id}/share``: opt-in public links to a scan's report page, and their badges.

The link's token is returned once (only its hash is stored); DELETE revokes the link and the
badge at once. Another workspace's scan answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from botscope.api.deps import get_principal
from botscope.api.problems import problem_docs
from botscope.auth.principal import Principal
from botscope.service import reports as service

router = APIRouter(tags=["shares"])
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]

_AUTH = {"401": "unauthorized: missing, malformed, unknown or revoked credential (WWW-Authenticate: Bearer)"}
_NOT_FOUND = {"404": "not_found: no such scan in your workspace, or it has no share link"}


class ShareCreated(BaseModel):
    share_id: str
    scan_job_id: str
    created_at: str
    url: str = Field(description="Absolute URL of the public report page. Shown once: only its hash is kept.")
    badge_posture: str = Field(description="Badge SVG with the posture.")
    badge_ai: str = Field(description='Badge SVG: "AI crawlers: blocked / partial / allowed".')


class ShareStatus(BaseModel):
    share_id: str
    scan_job_id: str
    created_at: str
    badge_posture: str
    badge_ai: str


def _absolute(request: Request, path: str) -> str:
    return str(request.base_url).rstrip("/") + path


@router.post(
    "/scans/{scan_job_id}/share",
    status_code=201,
    response_model=ShareCreated,
    summary="Create a public share link to the report page",
    description="Creates an unguessable public link to the scan's report page (and its badges). "
    "A new link replaces (revokes) the scan's earlier one. The scan must be completed.",
    responses=problem_docs(
        **_AUTH,
        **_NOT_FOUND,
        **{
            "403": "csrf: a cookie-authenticated request from an origin that is not allowed",
            "409": "scan_not_ready, scan_failed or share_conflict",
        },
    ),
)
def create_share(scan_job_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    share = service.create_share(principal, scan_job_id)
    return {
        **share,
        "url": _absolute(request, share["url"]),
        "badge_posture": _absolute(request, share["badge_posture"]),
        "badge_ai": _absolute(request, share["badge_ai"]),
    }


@router.get(
    "/scans/{scan_job_id}/share",
    response_model=ShareStatus,
    summary="The scan's share link, if any",
    description="The link itself is not returned (it is not kept); create a new one to see it again.",
    responses=problem_docs(**_AUTH, **_NOT_FOUND),
)
def get_share(scan_job_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    share = service.get_share(principal, scan_job_id)
    return {
        **share,
        "badge_posture": _absolute(request, share["badge_posture"]),
        "badge_ai": _absolute(request, share["badge_ai"]),
    }


@router.delete(
    "/scans/{scan_job_id}/share",
    status_code=204,
    response_class=Response,
    summary="Revoke the scan's share link and its badges",
    responses=problem_docs(
        **_AUTH,
        **_NOT_FOUND,
        **{"403": "csrf: a cookie-authenticated request from an origin that is not allowed"},
    ),
)
def revoke_share(scan_job_id: str, principal: CurrentPrincipal) -> Response:
    service.revoke_share(principal, scan_job_id)
    return Response(status_code=204)
