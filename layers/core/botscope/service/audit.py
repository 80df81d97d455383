"""Reading the audit log (enterprise only)."""

from __future__ import annotations

from typing import Any

from botscope import ids
from botscope.auth.principal import Principal
from botscope.errors import PlanRequired, ValidationFailed
from botscope.store import audit as audit_store

MAX_PAGE = 100
DEFAULT_PAGE = 20


def list_audit_log(
    principal: Principal, *, limit: int = DEFAULT_PAGE, starting_after: str | None = None
) -> dict[str, Any]:
    if principal.plan != "enterprise" or not principal.in_good_standing:
        raise PlanRequired("The audit log is part of the enterprise plan.")
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_PAGE}.",
            errors=[{"field": "limit", "message": f"must be between 1 and {MAX_PAGE}"}],
        )
    if starting_after is not None and not ids.is_id(starting_after, "aud"):
        raise ValidationFailed(
            "starting_after must be an audit record id (aud_…).",
            errors=[{"field": "starting_after", "message": "must be an aud_ id"}],
        )
    records, has_more = audit_store.list_records(
        principal.workspace_id, limit=limit, starting_after=starting_after
    )
    return {"data": [_public(r) for r in records], "has_more": has_more}


def _public(record: audit_store.AuditRecord) -> dict[str, Any]:
    return {
        "audit_id": record.audit_id,
        "at": record.at,
        "action": record.action,
        "target": record.target,
        "actor": record.actor,
        "actor_type": record.actor_type,
        "actor_id": record.actor_id,
        "request_id": record.request_id,
        "source_ip": record.source_ip,
        "details": record.details,
    }
