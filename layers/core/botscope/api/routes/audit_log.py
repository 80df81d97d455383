"""``/api/v1/audit-log`` (enterprise): who did what, when, newest first, cursor pagination."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from botscope.api.deps import get_principal
from botscope.api.problems import problem_docs
from botscope.auth.principal import Principal
from botscope.service import audit

router = APIRouter(tags=["audit-log"])


@router.get(
    "/audit-log",
    summary="List audit records (enterprise)",
    description="Newest first: key created/revoked, webhook created/deleted, monitoring "
    "enrolled/released, scan started, with actor, request id and source IP.",
    responses=problem_docs(
        **{
            "401": "unauthorized: missing, malformed, unknown or revoked credential (WWW-Authenticate: Bearer)",
            "403": "plan_required: the audit log is part of the enterprise plan",
            "422": "validation_error (limit, starting_after)",
            "429": "rate_limited (Retry-After, RateLimit, RateLimit-Policy)",
        }
    ),
)
def list_audit_log(
    principal: Annotated[Principal, Depends(get_principal)],
    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE)] = audit.DEFAULT_PAGE,
    starting_after: Annotated[
        str | None, Query(description="The last audit_id of the previous page.")
    ] = None,
) -> dict[str, Any]:
    return audit.list_audit_log(principal, limit=limit, starting_after=starting_after)
